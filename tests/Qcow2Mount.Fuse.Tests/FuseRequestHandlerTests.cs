using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using Qcow2Mount.Core.Vfs;
using Qcow2Mount.Fuse.Interop;
using Qcow2Mount.Fuse.Protocol;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Fuse.Tests;

/// <summary>The FUSE protocol without a kernel: request bytes in, reply bytes out, checked field by field (linux/fuse.h 7.38).</summary>
public sealed class FuseRequestHandlerTests
{
    private const int Size = 1 << 20;
    private const ulong RootNode = 1, FileNode = 2;
    private const int ORdwr = 2;
    private const uint KernelFlags = 0x7BFFFFFF; // what kernel 6.18 offered in fuse_init_in.flags (every bit but 26 and 31)

    private static (FuseRequestHandler Handler, MemoryDisk Disk, List<string> Log) Create(bool readOnly = false, NodeOwner? owner = null)
    {
        var disk = new MemoryDisk(Size);
        var directory = new ImageDirectory(readOnly: readOnly);
        directory.Add("/images/disk.qcow2", disk);
        var log = new List<string>();
        var fs = new FuseFileSystem(directory, log.Add);
        return (new FuseRequestHandler(fs, owner ?? new NodeOwner(1000, 100)), disk, log);
    }

    [Test]
    public void Init_OffersEverything_TakesOnlyWhatItWantsAndOneMegabyteRequests()
    {
        var (handler, _, _) = Create();
        var request = Bytes(new FuseInitIn { Major = 7, Minor = 44, MaxReadahead = 131072, Flags = KernelFlags });

        var reply = Send(handler, FuseOpcode.Init, 0, request);

        var init = Body<FuseInitOut>(reply);
        Assert.Multiple(() =>
        {
            Assert.That(Error(reply), Is.Zero);
            Assert.That(reply.Length, Is.EqualTo(16 + 64), "fuse_init_out is 64 bytes since 7.23");
            Assert.That((init.Major, init.Minor), Is.EqualTo((7u, 38u)));
            Assert.That(init.MaxWrite, Is.EqualTo(1u << 20));
            Assert.That(init.MaxPages, Is.EqualTo(256));
            Assert.That(init.MaxReadahead, Is.EqualTo(131072));
            Assert.That(init.Flags & (1u << 16), Is.Zero, "writeback cache stays off: errors must reach the writer");
            Assert.That(init.Flags & (1u << 12), Is.Zero, "no AUTO_INVAL_DATA: our own writes change the mtime, and would drop the whole page cache");
            Assert.That(init.Flags & (1u << 0 | 1u << 15 | 1u << 22), Is.EqualTo(1u << 0 | 1u << 15 | 1u << 22), "async read, async DIO, max_pages");
            Assert.That(init.Flags & ~KernelFlags, Is.Zero, "nothing the kernel did not offer");
            Assert.That(FuseRequestHandler.CompletesInit(Request(FuseOpcode.Init, 0, request), reply), Is.True, "the mount serves once this reply is written");
        });
    }

    [Test]
    public void Init_KernelWithoutMaxPages_NotAskedFor()
    {
        var (handler, _, _) = Create();
        var reply = Send(handler, FuseOpcode.Init, 0, Bytes(new FuseInitIn { Major = 7, Minor = 27, Flags = 1 }));
        Assert.That(Body<FuseInitOut>(reply).Flags, Is.EqualTo(1u));
    }

    [Test]
    public void Init_NewerMajor_AnsweredWithOursAloneOlderRefused()
    {
        var (handler, _, _) = Create();
        var newer = Send(handler, FuseOpcode.Init, 0, Bytes(new FuseInitIn { Major = 8, Minor = 0 }));
        var older = Send(handler, FuseOpcode.Init, 0, Bytes(new FuseInitIn { Major = 6, Minor = 9 }));
        Assert.Multiple(() =>
        {
            Assert.That((Body<FuseInitOut>(newer).Major, Body<FuseInitOut>(newer).Flags), Is.EqualTo((7u, 0u)));
            Assert.That(Error(older), Is.EqualTo(-Errno.EPROTO));
            Assert.That(FuseRequestHandler.CompletesInit(Request(FuseOpcode.Init, 0, Bytes(new FuseInitIn { Major = 8 })), newer), Is.False, "the kernel asks again in our major");
            Assert.That(FuseRequestHandler.CompletesInit(Request(FuseOpcode.Init, 0, Bytes(new FuseInitIn { Major = 6 })), older), Is.False);
        });
    }

    [Test]
    public void Lookup_FileInRoot_EntryWithInodeSizeAndOwner()
    {
        var (handler, _, _) = Create();

        var reply = Send(handler, FuseOpcode.Lookup, RootNode, Encoding.UTF8.GetBytes("disk.raw\0"));
        var missing = Send(handler, FuseOpcode.Lookup, RootNode, Encoding.UTF8.GetBytes("other.raw\0"));
        var underFile = Send(handler, FuseOpcode.Lookup, FileNode, Encoding.UTF8.GetBytes("x\0"));

        var entry = Body<FuseEntryOut>(reply);
        Assert.Multiple(() =>
        {
            Assert.That(entry.NodeId, Is.EqualTo(FileNode));
            Assert.That(entry.Attr.Ino, Is.EqualTo(FileNode));
            Assert.That(entry.Attr.Size, Is.EqualTo((ulong)Size));
            Assert.That(entry.Attr.Blocks, Is.EqualTo((ulong)Size / 512));
            Assert.That(entry.Attr.Mode, Is.EqualTo(LinuxConstants.S_IFREG | 0x180));
            Assert.That((entry.Attr.Uid, entry.Attr.Gid), Is.EqualTo((1000u, 100u)));
            Assert.That(entry.EntryValid, Is.EqualTo(1ul));
            Assert.That(Error(missing), Is.EqualTo(-Errno.ENOENT));
            Assert.That(Error(underFile), Is.EqualTo(-Errno.ENOTDIR));
        });
    }

    [Test]
    public void GetAttr_UmaskAndOwnerOptions_ReplaceModeBitsAndOwner()
    {
        var (handler, _, _) = Create(owner: new NodeOwner(1234, 2345, Umask: 0x17 /* 027 */));

        var root = Body<FuseAttrOut>(Send(handler, FuseOpcode.GetAttr, RootNode, new byte[16])).Attr;
        var file = Body<FuseAttrOut>(Send(handler, FuseOpcode.GetAttr, FileNode, new byte[16])).Attr;
        var unknown = Send(handler, FuseOpcode.GetAttr, 9, new byte[16]);

        Assert.Multiple(() =>
        {
            Assert.That(root.Mode, Is.EqualTo(LinuxConstants.S_IFDIR | 0x1E8 /* 0750 */));
            Assert.That(file.Mode, Is.EqualTo(LinuxConstants.S_IFREG | 0x1E8));
            Assert.That((file.Uid, file.Gid), Is.EqualTo((1234u, 2345u)));
            Assert.That(root.Ino, Is.EqualTo(RootNode));
            Assert.That(Error(unknown), Is.EqualTo(-Errno.ENOENT));
        });
    }

    [Test]
    public void OpenReadWrite_DataGoesThroughAndHandleCarriesParallelDirectWrites()
    {
        var (handler, disk, _) = Create();
        disk.Bytes[4096] = 0x5A;

        var open = Body<FuseOpenOut>(Send(handler, FuseOpcode.Open, FileNode, Bytes(new FuseOpenIn { Flags = ORdwr })));
        var read = Send(handler, FuseOpcode.Read, FileNode, Bytes(new FuseIoIn { Fh = open.Fh, Offset = 4096, Size = 8192 }));
        var payload = new byte[] { 1, 2, 3, 4, 5 };
        var write = Send(handler, FuseOpcode.Write, FileNode, [.. Bytes(new FuseIoIn { Fh = open.Fh, Offset = 100, Size = 5 }), .. payload]);
        var pastEnd = Send(handler, FuseOpcode.Read, FileNode, Bytes(new FuseIoIn { Fh = open.Fh, Offset = Size - 10, Size = 4096 }));

        Assert.Multiple(() =>
        {
            Assert.That(open.OpenFlags, Is.EqualTo(FuseOpenOut.KeepCache | FuseOpenOut.ParallelDirectWrites));
            Assert.That(read.Length, Is.EqualTo(16 + 8192));
            Assert.That(read[16], Is.EqualTo(0x5A));
            Assert.That(Body<FuseWriteOut>(write).Size, Is.EqualTo(5u));
            Assert.That(disk.Bytes.Slice(100, 5).ToArray(), Is.EqualTo(payload));
            Assert.That(pastEnd.Length, Is.EqualTo(16 + 10), "short only at the end of the disk");
        });
    }

    [Test]
    public void Write_BodyShorterThanItsSize_InvalidNotRead()
    {
        var (handler, disk, _) = Create();
        var open = Body<FuseOpenOut>(Send(handler, FuseOpcode.Open, FileNode, Bytes(new FuseOpenIn { Flags = ORdwr })));
        var write = Send(handler, FuseOpcode.Write, FileNode, [.. Bytes(new FuseIoIn { Fh = open.Fh, Offset = 0, Size = 4096 }), 1, 2]);
        Assert.Multiple(() =>
        {
            Assert.That(Error(write), Is.EqualTo(-Errno.EINVAL));
            Assert.That(disk.Bytes[0], Is.Zero);
        });
    }

    [Test]
    public void Flush_OnlyDescriptorsOpenedForWritingMakeTheDiskDurable()
    {
        var (handler, disk, _) = Create();
        var reader = Body<FuseOpenOut>(Send(handler, FuseOpcode.Open, FileNode, Bytes(new FuseOpenIn { Flags = 0 })));
        var writer = Body<FuseOpenOut>(Send(handler, FuseOpcode.Open, FileNode, Bytes(new FuseOpenIn { Flags = ORdwr })));

        var readerClose = Send(handler, FuseOpcode.Flush, FileNode, Bytes(new FuseFhIn { Fh = reader.Fh }, 24));
        int afterReader = disk.FlushCount;
        var writerClose = Send(handler, FuseOpcode.Flush, FileNode, Bytes(new FuseFhIn { Fh = writer.Fh }, 24));
        var fsync = Send(handler, FuseOpcode.Fsync, FileNode, Bytes(new FuseFhIn { Fh = reader.Fh }, 16));

        Assert.Multiple(() =>
        {
            Assert.That((Error(readerClose), Error(writerClose), Error(fsync)), Is.EqualTo((0, 0, 0)));
            Assert.That(afterReader, Is.Zero);
            Assert.That(disk.FlushCount, Is.EqualTo(2), "the writer's close and the fsync");
        });
    }

    [Test]
    public void Open_WriteOnReadOnlyMount_Erofs()
    {
        var (handler, _, _) = Create(readOnly: true);
        var reply = Send(handler, FuseOpcode.Open, FileNode, Bytes(new FuseOpenIn { Flags = ORdwr }));
        Assert.That(Error(reply), Is.EqualTo(-Errno.EROFS));
    }

    [Test]
    public void ReadDir_SmallBuffer_PagesThroughDotDotDotAndTheFileByOffset()
    {
        var (handler, _, _) = Create();
        Assert.That(Error(Send(handler, FuseOpcode.OpenDir, RootNode, new byte[8])), Is.Zero);

        var names = new List<(string Name, ulong Inode, uint Type)>();
        ulong offset = 0;
        for (int round = 0; round < 10; round++)
        {
            var reply = Send(handler, FuseOpcode.ReadDir, RootNode, Bytes(new FuseIoIn { Offset = offset, Size = 40 }));
            Assert.That(Error(reply), Is.Zero);
            var body = reply.AsSpan(16);
            if (body.IsEmpty)
            {
                break;
            }

            while (!body.IsEmpty)
            {
                uint length = MemoryMarshal.Read<uint>(body[16..]);
                names.Add((Encoding.UTF8.GetString(body.Slice(24, (int)length)), MemoryMarshal.Read<ulong>(body), MemoryMarshal.Read<uint>(body[20..])));
                offset = MemoryMarshal.Read<ulong>(body[8..]);
                body = body[(int)((24 + length + 7) & ~7u)..];
            }
        }

        Assert.That(names, Is.EqualTo(new[] { (".", 1ul, 4u), ("..", 1ul, 4u), ("disk.raw", 2ul, 8u) }));
    }

    [Test]
    public void NamespaceChanges_RefusedAsNotPermittedOrReadOnly()
    {
        var (handler, _, _) = Create();
        var (readOnly, _, _) = Create(readOnly: true);
        Assert.Multiple(() =>
        {
            foreach (var op in new[] { FuseOpcode.Create, FuseOpcode.Mkdir, FuseOpcode.Mknod, FuseOpcode.Unlink, FuseOpcode.Rename })
            {
                Assert.That(Error(Send(handler, op, RootNode, new byte[64])), Is.EqualTo(-Errno.EPERM), op.ToString());
                Assert.That(Error(Send(readOnly, op, RootNode, new byte[64])), Is.EqualTo(-Errno.EROFS), op.ToString());
            }

            var chmod = Send(handler, FuseOpcode.SetAttr, FileNode, Bytes(new FuseSetAttrIn { Valid = FuseSetAttrIn.Mode }));
            Assert.That(Error(chmod), Is.EqualTo(-Errno.EPERM));
        });
    }

    [Test]
    public void SetAttr_SameSizeAcceptedOtherRefused()
    {
        var (handler, _, _) = Create();
        var same = Send(handler, FuseOpcode.SetAttr, FileNode, Bytes(new FuseSetAttrIn { Valid = FuseSetAttrIn.Size, NewSize = Size }));
        var other = Send(handler, FuseOpcode.SetAttr, FileNode, Bytes(new FuseSetAttrIn { Valid = FuseSetAttrIn.Size, NewSize = 4096 }));
        Assert.Multiple(() =>
        {
            Assert.That(Body<FuseAttrOut>(same).Attr.Size, Is.EqualTo((ulong)Size));
            Assert.That(Error(other), Is.EqualTo(-Errno.EPERM));
        });
    }

    [Test]
    public void SetAttr_Times_KeptAndReportedNowMeansTheServersClock()
    {
        var (handler, _, _) = Create();
        var set = Send(handler, FuseOpcode.SetAttr, FileNode, Bytes(new FuseSetAttrIn
        {
            Valid = FuseSetAttrIn.ATime | FuseSetAttrIn.MTime, ATimeSeconds = 1_015_218_367, ATimeNanoseconds = 500_000_000, MTimeSeconds = 981_173_106,
        }));
        var later = Body<FuseAttrOut>(Send(handler, FuseOpcode.GetAttr, FileNode, new byte[16])).Attr;
        long before = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var now = Body<FuseAttrOut>(Send(handler, FuseOpcode.SetAttr, FileNode, Bytes(new FuseSetAttrIn { Valid = FuseSetAttrIn.MTime | FuseSetAttrIn.MTimeNow }))).Attr;

        Assert.Multiple(() =>
        {
            Assert.That(Error(set), Is.Zero);
            Assert.That((later.ATime, later.ATimeNsec, later.MTime, later.MTimeNsec), Is.EqualTo((1_015_218_367ul, 500_000_000u, 981_173_106ul, 0u)));
            Assert.That(later.CTime, Is.GreaterThanOrEqualTo((ulong)before - 5), "the change time is when it was set");
            Assert.That(now.MTime, Is.InRange((ulong)before, (ulong)before + 5));
            Assert.That(now.ATime, Is.EqualTo(1_015_218_367ul), "access time untouched");
        });
    }

    [Test]
    public void SetAttr_TimesOnReadOnlyMount_Erofs()
    {
        var (handler, _, _) = Create(readOnly: true);
        var reply = Send(handler, FuseOpcode.SetAttr, FileNode, Bytes(new FuseSetAttrIn { Valid = FuseSetAttrIn.MTime, MTimeSeconds = 1 }));
        Assert.That(Error(reply), Is.EqualTo(-Errno.EROFS));
    }

    [Test]
    public void StatFs_TotalSizeNothingFree()
    {
        var (handler, _, _) = Create();
        var st = Body<FuseKStatFs>(Send(handler, FuseOpcode.StatFs, RootNode, []));
        Assert.That((st.Blocks, st.BlocksFree, st.Files, st.BlockSize), Is.EqualTo(((ulong)Size / 4096, 0ul, 1ul, 4096u)));
    }

    [Test]
    public void ForgetAndInterrupt_NoReplyUnknownOpcode_NotImplemented()
    {
        var (handler, _, _) = Create();
        var reply = new byte[FuseRequestHandler.ReplyBufferSize];
        Assert.Multiple(() =>
        {
            Assert.That(handler.Handle(Request(FuseOpcode.Forget, FileNode, new byte[8]), reply), Is.Zero);
            Assert.That(handler.Handle(Request(FuseOpcode.BatchForget, 0, new byte[8]), reply), Is.Zero);
            Assert.That(handler.Handle(Request(FuseOpcode.Interrupt, 0, new byte[8]), reply), Is.Zero);
            Assert.That(handler.Handle(new byte[12], reply), Is.Zero, "shorter than a header");
            Assert.That(Error(Send(handler, (FuseOpcode)22 /* GETXATTR */, FileNode, new byte[16])), Is.EqualTo(-Errno.ENOSYS));
        });
    }

    [Test]
    public void DiskFailure_BecomesEioAndIsLogged()
    {
        var (handler, disk, log) = Create();
        var open = Body<FuseOpenOut>(Send(handler, FuseOpcode.Open, FileNode, Bytes(new FuseOpenIn { Flags = ORdwr })));
        disk.Failure = new IOException("boom");

        var read = Send(handler, FuseOpcode.Read, FileNode, Bytes(new FuseIoIn { Fh = open.Fh, Size = 4096 }));

        Assert.Multiple(() =>
        {
            Assert.That(Error(read), Is.EqualTo(-Errno.EIO));
            Assert.That(read.Length, Is.EqualTo(16));
            Assert.That(log, Has.Some.Contains("boom"));
        });
    }

    [Test]
    public void ReplyError_AnswersWithTheRequestsUniqueAndTheError()
    {
        var request = Request(FuseOpcode.Read, FileNode, new byte[40], unique: 77);
        var reply = new byte[64];

        int length = FuseRequestHandler.ReplyError(request, reply, -Errno.ENOTCONN);

        var header = MemoryMarshal.Read<FuseOutHeader>(reply);
        Assert.That((length, header.Length, header.Error, header.Unique), Is.EqualTo((16, 16u, -Errno.ENOTCONN, 77ul)));
    }

    [Test]
    public void ProtocolStructs_HaveTheKernelsSizes()
    {
        // sizeof in linux/fuse.h 7.38 (checked with the C compiler against /usr/include/linux/fuse.h).
        Assert.Multiple(() =>
        {
            Assert.That(Unsafe.SizeOf<FuseInHeader>(), Is.EqualTo(40));
            Assert.That(Unsafe.SizeOf<FuseOutHeader>(), Is.EqualTo(16));
            Assert.That(Unsafe.SizeOf<FuseAttr>(), Is.EqualTo(88));
            Assert.That(Unsafe.SizeOf<FuseEntryOut>(), Is.EqualTo(128));
            Assert.That(Unsafe.SizeOf<FuseAttrOut>(), Is.EqualTo(104));
            Assert.That(Unsafe.SizeOf<FuseInitOut>(), Is.EqualTo(64));
            Assert.That(Unsafe.SizeOf<FuseOpenOut>(), Is.EqualTo(16));
            Assert.That(Unsafe.SizeOf<FuseIoIn>(), Is.EqualTo(40));
            Assert.That(Unsafe.SizeOf<FuseWriteOut>(), Is.EqualTo(8));
            Assert.That(Unsafe.SizeOf<FuseKStatFs>(), Is.EqualTo(80));
            Assert.That(Unsafe.SizeOf<FuseSetAttrIn>(), Is.EqualTo(88));
            Assert.That(Unsafe.SizeOf<FuseFallocateIn>(), Is.EqualTo(32));
            Assert.That(Unsafe.SizeOf<FuseLseekIn>(), Is.EqualTo(24));
        });
    }

    private static byte[] Send(FuseRequestHandler handler, FuseOpcode opcode, ulong node, byte[] body)
    {
        var reply = new byte[FuseRequestHandler.ReplyBufferSize];
        var request = Request(opcode, node, body, unique: 42);
        int length = handler.Handle(request, reply);
        var header = MemoryMarshal.Read<FuseOutHeader>(reply);
        Assert.Multiple(() =>
        {
            Assert.That(header.Unique, Is.EqualTo(42ul), "the reply names its request");
            Assert.That(header.Length, Is.EqualTo((uint)length));
            Assert.That(header.Error == 0 || length == 16, Is.True, "an error reply has no body");
        });
        return reply[..length];
    }

    private static byte[] Request(FuseOpcode opcode, ulong node, byte[] body, ulong unique = 1)
    {
        var header = new FuseInHeader { Length = (uint)(40 + body.Length), Opcode = opcode, Unique = unique, NodeId = node };
        return [.. Bytes(header), .. body];
    }

    private static int Error(byte[] reply) => MemoryMarshal.Read<FuseOutHeader>(reply).Error;

    private static T Body<T>(byte[] reply)
        where T : unmanaged
    {
        Assert.That(reply.Length, Is.GreaterThanOrEqualTo(16 + Unsafe.SizeOf<T>()), $"reply body holds a {typeof(T).Name}");
        return MemoryMarshal.Read<T>(reply.AsSpan(16));
    }

    /// <summary>The struct's bytes, padded with zeros to <paramref name="size"/> (the kernel's size of the request struct).</summary>
    private static byte[] Bytes<T>(T value, int size = 0)
        where T : unmanaged
    {
        var bytes = new byte[Math.Max(size, Unsafe.SizeOf<T>())];
        MemoryMarshal.Write(bytes, in value);
        return bytes;
    }
}
