using System.Runtime.InteropServices;

namespace Qcow2Mount.Fuse.Interop;

/// <summary>
/// <c>struct fuse_operations</c> of libfuse 3.14: 42 function pointers, 336 bytes, offset = 8 × index (fuse-notes §2).
/// Only the operations an image directory needs are named; every other slot stays 0 (libfuse answers ENOSYS).
/// Pointer parameters are untyped where the layout depends on the architecture (<c>struct stat</c>).
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = Size)]
internal unsafe struct FuseOperations
{
    public const int Size = 336;

    /// <summary>int getattr(const char*, struct stat*, struct fuse_file_info*)</summary>
    [FieldOffset(0)] public delegate* unmanaged[Cdecl]<byte*, void*, FuseFileInfo*, int> GetAttr;

    /// <summary>int truncate(const char*, off_t, struct fuse_file_info*)</summary>
    [FieldOffset(88)] public delegate* unmanaged[Cdecl]<byte*, long, FuseFileInfo*, int> Truncate;

    /// <summary>int open(const char*, struct fuse_file_info*)</summary>
    [FieldOffset(96)] public delegate* unmanaged[Cdecl]<byte*, FuseFileInfo*, int> Open;

    /// <summary>int read(const char*, char*, size_t, off_t, struct fuse_file_info*) → bytes</summary>
    [FieldOffset(104)] public delegate* unmanaged[Cdecl]<byte*, byte*, nuint, long, FuseFileInfo*, int> Read;

    /// <summary>int write(const char*, const char*, size_t, off_t, struct fuse_file_info*) → bytes</summary>
    [FieldOffset(112)] public delegate* unmanaged[Cdecl]<byte*, byte*, nuint, long, FuseFileInfo*, int> Write;

    /// <summary>int statfs(const char*, struct statvfs*)</summary>
    [FieldOffset(120)] public delegate* unmanaged[Cdecl]<byte*, StatVfs*, int> StatFs;

    /// <summary>int flush(const char*, struct fuse_file_info*): called on every close(2) of a descriptor.</summary>
    [FieldOffset(128)] public delegate* unmanaged[Cdecl]<byte*, FuseFileInfo*, int> Flush;

    /// <summary>int release(const char*, struct fuse_file_info*): the last descriptor of an open is gone.</summary>
    [FieldOffset(136)] public delegate* unmanaged[Cdecl]<byte*, FuseFileInfo*, int> Release;

    /// <summary>int fsync(const char*, int datasync, struct fuse_file_info*)</summary>
    [FieldOffset(144)] public delegate* unmanaged[Cdecl]<byte*, int, FuseFileInfo*, int> Fsync;

    /// <summary>int readdir(const char*, void* buf, fuse_fill_dir_t, off_t, struct fuse_file_info*, enum fuse_readdir_flags)</summary>
    [FieldOffset(192)] public delegate* unmanaged[Cdecl]<byte*, void*, nint, long, FuseFileInfo*, int, int> ReadDir;

    /// <summary>void* init(struct fuse_conn_info*, struct fuse_config*): its result becomes the context's private_data.</summary>
    [FieldOffset(216)] public delegate* unmanaged[Cdecl]<FuseConnInfo*, FuseConfig*, nint> Init;

    /// <summary>int utimens(const char*, const struct timespec[2], struct fuse_file_info*)</summary>
    [FieldOffset(256)] public delegate* unmanaged[Cdecl]<byte*, Timespec*, FuseFileInfo*, int> Utimens;

    /// <summary>int fallocate(const char*, int mode, off_t, off_t, struct fuse_file_info*)</summary>
    [FieldOffset(312)] public delegate* unmanaged[Cdecl]<byte*, int, long, long, FuseFileInfo*, int> Fallocate;

    /// <summary>off_t lseek(const char*, off_t, int whence, struct fuse_file_info*) (libfuse ≥ 3.8)</summary>
    [FieldOffset(328)] public delegate* unmanaged[Cdecl]<byte*, long, int, FuseFileInfo*, long> Lseek;
}
