using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using Qcow2Mount.Fuse.Interop;

namespace Qcow2Mount.Fuse;

/// <summary>
/// The native entry points libfuse calls on its worker threads. Each one finds its <see cref="FuseHost"/> through the
/// context's private_data (a <see cref="GCHandle"/>), forwards to <see cref="ImageFileSystem"/> and returns its result.
/// Invariant: no exception leaves a callback (it would kill the process); anything unexpected becomes −EIO.
/// </summary>
internal static unsafe class FuseCallbacks
{
    public static FuseOperations Table() => new()
    {
        GetAttr = &GetAttr,
        Truncate = &Truncate,
        Open = &Open,
        Read = &Read,
        Write = &Write,
        StatFs = &StatFs,
        Flush = &Flush,
        Release = &Release,
        Fsync = &Fsync,
        ReadDir = &ReadDir,
        Init = &Init,
        Utimens = &Utimens,
        Fallocate = &Fallocate,
        Lseek = &Lseek,
    };

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static nint Init(FuseConnInfo* conn, FuseConfig* config)
    {
        nint self = Libfuse.FuseGetContext()->PrivateData;
        try
        {
            // Writeback caching would acknowledge writes before the disk saw them (errors surface only at fsync).
            conn->Want &= ~FuseConnInfo.CapWritebackCache;
            // Our inode numbers (root 1, files 2…) stay stable across lookups; paths are needed by getattr/truncate/utimens.
            config->UseIno = 1;
            config->NullPathOk = 0;
            HostOf(self).OnInitialized();
        }
        catch (Exception e)
        {
            Report(self, "init", e);
        }

        return self;
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int GetAttr(byte* path, void* stat, FuseFileInfo* fi)
    {
        try
        {
            var host = Current();
            int result = host.FileSystem.GetAttributes(PathOf(path), out var attributes);
            if (result == 0)
            {
                StatWriter.Write(stat, attributes, host.OwnerUid, host.OwnerGid);
            }

            return result;
        }
        catch (Exception e)
        {
            return Fail("getattr", e);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int ReadDir(byte* path, void* buffer, nint filler, long offset, FuseFileInfo* fi, int flags)
    {
        try
        {
            int result = Current().FileSystem.ListDirectory(PathOf(path), out var names);
            if (result != 0)
            {
                return result;
            }

            var fill = (delegate* unmanaged[Cdecl]<void*, byte*, void*, long, int, int>)filler;
            AddEntry(fill, buffer, ".");
            AddEntry(fill, buffer, "..");
            foreach (string name in names)
            {
                AddEntry(fill, buffer, name);
            }

            return 0;
        }
        catch (Exception e)
        {
            return Fail("readdir", e);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int Open(byte* path, FuseFileInfo* fi)
    {
        try
        {
            long handle = Current().FileSystem.Open(PathOf(path), fi->Flags);
            if (handle < 0)
            {
                return (int)handle;
            }

            fi->Fh = (ulong)handle;
            // The disk changes only through this mount (the image is locked), so cached pages stay valid across opens.
            fi->Bits |= FuseFileInfo.KeepCache;
            return 0;
        }
        catch (Exception e)
        {
            return Fail("open", e);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int Read(byte* path, byte* buffer, nuint size, long offset, FuseFileInfo* fi)
    {
        try
        {
            return Current().FileSystem.Read(fi->Fh, new Span<byte>(buffer, checked((int)size)), offset);
        }
        catch (Exception e)
        {
            return Fail("read", e);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int Write(byte* path, byte* data, nuint size, long offset, FuseFileInfo* fi)
    {
        try
        {
            return Current().FileSystem.Write(fi->Fh, new ReadOnlySpan<byte>(data, checked((int)size)), offset);
        }
        catch (Exception e)
        {
            return Fail("write", e);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int StatFs(byte* path, StatVfs* stat)
    {
        try
        {
            var (blocks, files, nameMax) = Current().FileSystem.Capacity();
            *stat = new StatVfs
            {
                BlockSize = 4096, FragmentSize = 4096, Blocks = blocks, Files = files, NameMax = nameMax,
            };
            return 0;
        }
        catch (Exception e)
        {
            return Fail("statfs", e);
        }
    }

    /// <summary>close(2) of a descriptor: makes its writes durable, like QEMU's export (a read-only descriptor has nothing to flush).</summary>
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int Flush(byte* path, FuseFileInfo* fi)
    {
        try
        {
            return (fi->Flags & LinuxConstants.O_ACCMODE) == LinuxConstants.O_RDONLY ? 0 : Current().FileSystem.Flush(fi->Fh);
        }
        catch (Exception e)
        {
            return Fail("flush", e);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int Release(byte* path, FuseFileInfo* fi) => 0;

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int Fsync(byte* path, int dataSync, FuseFileInfo* fi)
    {
        try
        {
            return Current().FileSystem.Flush(fi->Fh);
        }
        catch (Exception e)
        {
            return Fail("fsync", e);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int Truncate(byte* path, long size, FuseFileInfo* fi)
    {
        try
        {
            return Current().FileSystem.Truncate(PathOf(path), size);
        }
        catch (Exception e)
        {
            return Fail("truncate", e);
        }
    }

    /// <summary>Timestamps are not stored (they follow the image file); accepted so touch(1) and cp -p succeed.</summary>
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int Utimens(byte* path, Timespec* times, FuseFileInfo* fi)
    {
        try
        {
            long handle = Current().FileSystem.Resolve(PathOf(path));
            return handle < 0 ? (int)handle : 0;
        }
        catch (Exception e)
        {
            return Fail("utimens", e);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int Fallocate(byte* path, int mode, long offset, long length, FuseFileInfo* fi)
    {
        try
        {
            return Current().FileSystem.Allocate(fi->Fh, mode, offset, length);
        }
        catch (Exception e)
        {
            return Fail("fallocate", e);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static long Lseek(byte* path, long offset, int whence, FuseFileInfo* fi)
    {
        try
        {
            return Current().FileSystem.Seek(fi->Fh, offset, whence);
        }
        catch (Exception e)
        {
            return Fail("lseek", e);
        }
    }

    private static FuseHost Current() => HostOf(Libfuse.FuseGetContext()->PrivateData);

    private static FuseHost HostOf(nint privateData) => (FuseHost)GCHandle.FromIntPtr(privateData).Target!;

    private static string PathOf(byte* path) =>
        path == null ? string.Empty : Encoding.UTF8.GetString(MemoryMarshal.CreateReadOnlySpanFromNullTerminated(path));

    private static void AddEntry(delegate* unmanaged[Cdecl]<void*, byte*, void*, long, int, int> fill, void* buffer, string name)
    {
        int length = Encoding.UTF8.GetByteCount(name);
        Span<byte> utf8 = length < 1024 ? stackalloc byte[length + 1] : new byte[length + 1];
        Encoding.UTF8.GetBytes(name, utf8);
        utf8[length] = 0;
        fixed (byte* p = utf8)
        {
            _ = fill(buffer, p, null, 0, 0);
        }
    }

    private static int Fail(string operation, Exception e)
    {
        try
        {
            Report(Libfuse.FuseGetContext()->PrivateData, operation, e);
        }
        catch
        {
            // Logging is best effort; the request still gets its error.
        }

        return -Errno.EIO;
    }

    private static void Report(nint self, string operation, Exception e)
    {
        if (self != 0)
        {
            HostOf(self).FileSystem.Log($"{operation}: unexpected {e.GetType().Name}: {e.Message}");
        }
    }
}
