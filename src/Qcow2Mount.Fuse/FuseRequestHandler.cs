using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using Qcow2Mount.Core.Vfs;
using Qcow2Mount.Fuse.Interop;
using Qcow2Mount.Fuse.Protocol;
using static Qcow2Mount.Fuse.Interop.LinuxConstants;

namespace Qcow2Mount.Fuse;

/// <summary>
/// Answers one request of the kernel's FUSE protocol (linux/fuse.h 7.38): decodes it, calls
/// <see cref="FuseFileSystem"/> and encodes the reply into the caller's buffer. It does no I/O on /dev/fuse, holds
/// no lock and allocates nothing for READ and WRITE, so any number of worker threads share one instance.
/// Node ids: the root is FUSE's node 1, a file is its handle plus one (its inode number).
/// Invariant: every request but FORGET, BATCH_FORGET and INTERRUPT gets exactly one reply; no exception escapes.
/// </summary>
internal sealed class FuseRequestHandler
{
    /// <summary>The protocol version we speak; the kernel uses the lower of its own and ours.</summary>
    public const uint KernelMajor = 7, KernelMinor = 38;

    /// <summary>Largest READ or WRITE payload (FUSE_MAX_PAGES × 4 KiB), what libfuse negotiates too (fuse-notes §7).</summary>
    public const int MaxPayload = MaxPages * 4096;

    /// <summary>A request buffer must hold the largest WRITE: its headers plus <see cref="MaxPayload"/>.</summary>
    public const int RequestBufferSize = MaxPayload + 4096;

    /// <summary>A reply buffer must hold the largest READ reply.</summary>
    public const int ReplyBufferSize = MaxPayload + OutHeaderSize;

    private const ushort MaxPages = 256;
    private const int InHeaderSize = 40, OutHeaderSize = 16, IoInSize = 40, DirentHeaderSize = 24;
    private const uint DirentTypeDirectory = 4, DirentTypeRegular = 8;

    /// <summary>Attribute and name cache timeout, libfuse's default (1 s): sizes never change, names only at mount.</summary>
    private const ulong CacheSeconds = 1;

    // FUSE_INIT flags (linux/fuse.h): what we ask for, each only if the kernel offers it. Not AUTO_INVAL_DATA: it makes
    // the kernel drop the file's whole page cache whenever the mtime it sees changes, and our own writes change it; the
    // kernel already sees every write (the image is locked, nothing else changes the disk), so its cache stays valid.
    private const uint AsyncRead = 1 << 0, AtomicOTrunc = 1 << 3, BigWrites = 1 << 5,
        AsyncDio = 1 << 15, ParallelDirops = 1 << 18, MaxPagesFlag = 1 << 22, InitExt = 1 << 30;

    private const uint WantedFlags = AsyncRead | AtomicOTrunc | BigWrites | AsyncDio | ParallelDirops | MaxPagesFlag | InitExt;

    /// <summary>Set in a file handle opened for writing: only those make their writes durable on close (FLUSH).</summary>
    private const ulong WritableBit = 1UL << 63;

    private readonly FuseFileSystem _fs;
    private readonly NodeOwner _owner;

    public FuseRequestHandler(FuseFileSystem fileSystem, NodeOwner owner)
    {
        _fs = fileSystem;
        _owner = owner;
    }

    /// <summary>
    /// Handles the request in <paramref name="request"/> (exactly what one read of /dev/fuse returned) and writes its
    /// reply to <paramref name="reply"/> (at least <see cref="ReplyBufferSize"/> bytes). Returns the reply's length,
    /// 0 when the request takes no reply.
    /// </summary>
    public int Handle(ReadOnlySpan<byte> request, Span<byte> reply)
    {
        if (request.Length < InHeaderSize)
        {
            return 0; // not a request: nothing to answer
        }

        var header = MemoryMarshal.Read<FuseInHeader>(request);
        var body = request[InHeaderSize..(int)Math.Clamp(header.Length, InHeaderSize, (uint)request.Length)];
        if (TakesNoReply(header.Opcode))
        {
            return 0; // nodes live as long as the mount; an interrupted request still gets its (prompt) reply
        }

        int result;
        try
        {
            result = Dispatch(header.Opcode, (long)header.NodeId - 1, body, reply[OutHeaderSize..]);
        }
        catch (Exception e)
        {
            _fs.Log($"{header.Opcode}: unexpected {e.GetType().Name}: {e.Message}");
            result = -Errno.EIO;
        }

        return WriteHeader(reply, header.Unique, result);
    }

    /// <summary>Answers <paramref name="request"/> with <paramref name="error"/> (−errno) alone; 0 when it takes no reply.</summary>
    public static int ReplyError(ReadOnlySpan<byte> request, Span<byte> reply, int error)
    {
        if (request.Length < InHeaderSize)
        {
            return 0;
        }

        var header = MemoryMarshal.Read<FuseInHeader>(request);
        return TakesNoReply(header.Opcode) ? 0 : WriteHeader(reply, header.Unique, error);
    }

    /// <summary>
    /// True when <paramref name="reply"/> (from <see cref="Handle"/>) accepts the kernel's INIT in <paramref name="request"/>:
    /// once it is written the mount serves requests. An answer that only names our major version is not one.
    /// </summary>
    public static bool CompletesInit(ReadOnlySpan<byte> request, ReadOnlySpan<byte> reply) =>
        request.Length >= InHeaderSize + Unsafe.SizeOf<FuseInitIn>() && reply.Length >= OutHeaderSize
        && MemoryMarshal.Read<FuseInHeader>(request).Opcode == FuseOpcode.Init
        && MemoryMarshal.Read<FuseInitIn>(request[InHeaderSize..]).Major == KernelMajor
        && MemoryMarshal.Read<FuseOutHeader>(reply).Error == 0;

    private static bool TakesNoReply(FuseOpcode opcode) => opcode is FuseOpcode.Forget or FuseOpcode.BatchForget or FuseOpcode.Interrupt;

    /// <summary>Writes the reply header for a body of <paramref name="result"/> bytes (or the error −errno); returns the reply's length.</summary>
    private static int WriteHeader(Span<byte> reply, ulong unique, int result)
    {
        var header = new FuseOutHeader
        {
            Length = (uint)(OutHeaderSize + Math.Max(result, 0)),
            Error = Math.Min(result, 0),
            Unique = unique,
        };
        MemoryMarshal.Write(reply, in header);
        return (int)header.Length;
    }

    /// <summary>Returns the reply body's length, or −errno.</summary>
    private int Dispatch(FuseOpcode opcode, long node, ReadOnlySpan<byte> body, Span<byte> output)
    {
        switch (opcode)
        {
            case FuseOpcode.Read:
            {
                var io = Body<FuseIoIn>(body);
                var data = output[..(int)Math.Min(io.Size, (uint)output.Length)];
                return _fs.Read(FileOf(io.Fh), data, (long)io.Offset);
            }

            case FuseOpcode.Write:
            {
                var io = Body<FuseIoIn>(body);
                if (body.Length < IoInSize + (long)io.Size)
                {
                    return -Errno.EINVAL;
                }

                int written = _fs.Write(FileOf(io.Fh), body.Slice(IoInSize, (int)io.Size), (long)io.Offset);
                return written < 0 ? written : Reply(output, new FuseWriteOut { Size = (uint)written });
            }

            case FuseOpcode.Init: return Init(Body<FuseInitIn>(body), output);
            case FuseOpcode.Lookup: return Lookup(node, body, output);
            case FuseOpcode.GetAttr: return Attributes(node, output);
            case FuseOpcode.SetAttr: return SetAttributes(node, Body<FuseSetAttrIn>(body), output);
            case FuseOpcode.Open: return Open(node, Body<FuseOpenIn>(body).Flags, output);
            case FuseOpcode.OpenDir: return OpenDirectory(node, output);
            case FuseOpcode.ReadDir: return ReadDirectory(node, Body<FuseIoIn>(body), output);
            case FuseOpcode.StatFs: return StatFs(output);
            case FuseOpcode.Flush:
            {
                ulong fh = Body<FuseFhIn>(body).Fh;
                return (fh & WritableBit) == 0 ? 0 : _fs.Flush(FileOf(fh)); // close(2) of a writer: like QEMU's export
            }

            case FuseOpcode.Fsync: return _fs.Flush(FileOf(Body<FuseFhIn>(body).Fh));
            case FuseOpcode.Fallocate:
            {
                var f = Body<FuseFallocateIn>(body);
                return _fs.Allocate(FileOf(f.Fh), f.Mode, f.Offset, f.Length);
            }

            case FuseOpcode.Lseek:
            {
                var l = Body<FuseLseekIn>(body);
                long offset = _fs.Seek(FileOf(l.Fh), l.Offset, l.Whence);
                return offset < 0 ? (int)offset : Reply(output, offset);
            }

            case FuseOpcode.Release or FuseOpcode.ReleaseDir or FuseOpcode.FsyncDir or FuseOpcode.Access or FuseOpcode.Destroy:
                return 0;
            case FuseOpcode.Mknod or FuseOpcode.Mkdir or FuseOpcode.Link or FuseOpcode.Symlink or FuseOpcode.Create or FuseOpcode.TmpFile:
                return _fs.RefuseChange(ChangeKind.Create); // one file per image, fixed at mount
            case FuseOpcode.Unlink or FuseOpcode.Rmdir:
                return _fs.RefuseChange(ChangeKind.Delete);
            case FuseOpcode.Rename or FuseOpcode.Rename2:
                return _fs.RefuseChange(ChangeKind.Rename);
            default:
                return -Errno.ENOSYS;
        }
    }

    private int Init(FuseInitIn init, Span<byte> output)
    {
        if (init.Major != KernelMajor)
        {
            // A newer major is answered with ours alone and the kernel retries in it; an older one cannot be served.
            return init.Major > KernelMajor ? Reply(output, new FuseInitOut { Major = KernelMajor, Minor = KernelMinor }) : -Errno.EPROTO;
        }

        var reply = new FuseInitOut
        {
            Major = KernelMajor,
            Minor = KernelMinor,
            MaxReadahead = init.MaxReadahead,
            Flags = init.Flags & WantedFlags,
            MaxWrite = MaxPayload,
            TimeGranularity = 1,
            MaxPages = MaxPages,
        };
        return Reply(output, reply);
    }

    private int Lookup(long parent, ReadOnlySpan<byte> body, Span<byte> output)
    {
        if (parent != 0)
        {
            int notADirectory = _fs.ListDirectory(parent, out _);
            return notADirectory < 0 ? notADirectory : -Errno.ENOENT; // only the root holds names
        }

        int end = body.IndexOf((byte)0);
        string name = Encoding.UTF8.GetString(end < 0 ? body : body[..end]);
        long node = name.Length == 0 ? -Errno.ENOENT : _fs.Resolve("/" + name); // "/" alone would be the root
        int result = _fs.GetAttributes(node, out var attributes);
        if (result < 0)
        {
            return result;
        }

        return Reply(output, new FuseEntryOut
        {
            NodeId = attributes.Inode, EntryValid = CacheSeconds, AttrValid = CacheSeconds, Attr = Attr(attributes),
        });
    }

    private int Attributes(long node, Span<byte> output)
    {
        int result = _fs.GetAttributes(node, out var attributes);
        return result < 0 ? result : Reply(output, new FuseAttrOut { AttrValid = CacheSeconds, Attr = Attr(attributes) });
    }

    /// <summary>Access and modification times are kept for the mount's life; the size only to itself; no chmod/chown.</summary>
    private int SetAttributes(long node, FuseSetAttrIn change, Span<byte> output)
    {
        if ((change.Valid & (FuseSetAttrIn.Mode | FuseSetAttrIn.Uid | FuseSetAttrIn.Gid)) != 0)
        {
            return _fs.RefuseChange(ChangeKind.Attributes);
        }

        if ((change.Valid & FuseSetAttrIn.Size) != 0)
        {
            int result = _fs.Truncate(node, (long)Math.Min(change.NewSize, long.MaxValue));
            if (result < 0)
            {
                return result;
            }
        }

        if ((change.Valid & (FuseSetAttrIn.ATime | FuseSetAttrIn.MTime)) != 0)
        {
            var now = DateTime.UtcNow;
            DateTime? accessed = (change.Valid & FuseSetAttrIn.ATime) == 0 ? null
                : (change.Valid & FuseSetAttrIn.ATimeNow) != 0 ? now : Timespec.ToUtc((long)change.ATimeSeconds, change.ATimeNanoseconds);
            DateTime? modified = (change.Valid & FuseSetAttrIn.MTime) == 0 ? null
                : (change.Valid & FuseSetAttrIn.MTimeNow) != 0 ? now : Timespec.ToUtc((long)change.MTimeSeconds, change.MTimeNanoseconds);
            int result = _fs.SetTimes(node, accessed, modified);
            if (result < 0)
            {
                return result;
            }
        }

        return Attributes(node, output);
    }

    private int Open(long node, int flags, Span<byte> output)
    {
        long handle = _fs.Open(node, flags);
        if (handle < 0)
        {
            return (int)handle;
        }

        bool writing = (flags & O_ACCMODE) != O_RDONLY;
        return Reply(output, new FuseOpenOut
        {
            Fh = (ulong)handle | (writing ? WritableBit : 0),
            // The disk changes only through this mount (the image is locked), so cached pages stay valid across opens;
            // the engine orders overlapping writes itself, so the kernel need not serialise direct writes.
            OpenFlags = FuseOpenOut.KeepCache | FuseOpenOut.ParallelDirectWrites,
        });
    }

    private int OpenDirectory(long node, Span<byte> output)
    {
        int result = _fs.ListDirectory(node, out _);
        return result < 0 ? result : Reply(output, new FuseOpenOut());
    }

    /// <summary>Entries ".", ".." and the files; an entry's offset is the index of the next one.</summary>
    private int ReadDirectory(long node, FuseIoIn io, Span<byte> output)
    {
        int result = _fs.ListDirectory(node, out var names);
        if (result < 0)
        {
            return result;
        }

        var space = output[..(int)Math.Min(io.Size, (uint)output.Length)];
        int used = 0;
        for (long index = (long)Math.Min(io.Offset, int.MaxValue); index < names.Count + 2; index++)
        {
            string name = index switch { 0 => ".", 1 => "..", _ => names[(int)index - 2] };
            ulong inode = index < 2 ? 1 : 2 + (ulong)index - 2;
            int nameLength = Encoding.UTF8.GetByteCount(name);
            int entryLength = (DirentHeaderSize + nameLength + 7) & ~7;
            if (used + entryLength > space.Length)
            {
                break;
            }

            var entry = space.Slice(used, entryLength);
            entry.Clear();
            MemoryMarshal.Write(entry, inode);
            MemoryMarshal.Write(entry[8..], (ulong)(index + 1));
            MemoryMarshal.Write(entry[16..], (uint)nameLength);
            MemoryMarshal.Write(entry[20..], index < 2 ? DirentTypeDirectory : DirentTypeRegular);
            Encoding.UTF8.GetBytes(name, entry[DirentHeaderSize..]);
            used += entryLength;
        }

        return used;
    }

    private int StatFs(Span<byte> output)
    {
        var (blocks, files, nameMax) = _fs.Capacity();
        return Reply(output, new FuseKStatFs
        {
            Blocks = blocks, Files = files, BlockSize = VolumeCapacity.BlockSize, FragmentSize = VolumeCapacity.BlockSize, NameLength = (uint)nameMax,
        });
    }

    private FuseAttr Attr(in NodeAttributes a)
    {
        var accessed = Timespec.FromUtc(a.AccessedUtc < DateTime.UnixEpoch ? DateTime.UnixEpoch : a.AccessedUtc);
        var modified = Timespec.FromUtc(a.ModifiedUtc < DateTime.UnixEpoch ? DateTime.UnixEpoch : a.ModifiedUtc);
        var changed = Timespec.FromUtc(a.ChangedUtc < DateTime.UnixEpoch ? DateTime.UnixEpoch : a.ChangedUtc);
        return new FuseAttr
        {
            Ino = a.Inode,
            Size = (ulong)a.Size,
            Blocks = (ulong)((a.AllocatedBytes + 511) / 512),
            ATime = (ulong)accessed.Seconds, MTime = (ulong)modified.Seconds, CTime = (ulong)changed.Seconds,
            ATimeNsec = (uint)accessed.Nanoseconds, MTimeNsec = (uint)modified.Nanoseconds, CTimeNsec = (uint)changed.Nanoseconds,
            Mode = _owner.Apply(a.Mode),
            NLink = a.LinkCount,
            Uid = _owner.Uid,
            Gid = _owner.Gid,
            BlkSize = VolumeCapacity.BlockSize,
        };
    }

    /// <summary>The image handle inside a FUSE file handle.</summary>
    private static ulong FileOf(ulong fh) => fh & ~WritableBit;

    /// <summary>The request body as <typeparamref name="T"/>; a short body (never sent by the kernel) reads as zeros beyond its end.</summary>
    private static T Body<T>(ReadOnlySpan<byte> body)
        where T : unmanaged
    {
        if (body.Length >= Unsafe.SizeOf<T>())
        {
            return MemoryMarshal.Read<T>(body);
        }

        T value = default;
        body.CopyTo(MemoryMarshal.AsBytes(new Span<T>(ref value)));
        return value;
    }

    private static int Reply<T>(Span<byte> output, in T value)
        where T : unmanaged
    {
        MemoryMarshal.Write(output, in value);
        return Unsafe.SizeOf<T>();
    }
}
