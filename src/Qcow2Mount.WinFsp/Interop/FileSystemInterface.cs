using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Qcow2Mount.WinFsp.Interop;

/// <summary>
/// FSP_FILE_SYSTEM_INTERFACE: exactly 64 C function pointers (512 bytes on 64-bit), in the slot order of winfsp.h
/// (winfsp-notes §5). Slots the shim does not implement stay NULL, which WinFsp answers with
/// STATUS_INVALID_DEVICE_REQUEST. The first argument of every callback is the FSP_FILE_SYSTEM*; FileContext is the
/// per-open value Open returned (UmFileContextIsUserContext2). BOOLEAN is one byte.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct FileSystemInterface
{
    public const int SlotCount = 64;

    /* 0 */ public delegate* unmanaged[Cdecl]<nint, VolumeInfo*, int> GetVolumeInfo;
    /* 1 */ public delegate* unmanaged[Cdecl]<nint, char*, VolumeInfo*, int> SetVolumeLabel;
    /* 2 */ public delegate* unmanaged[Cdecl]<nint, char*, uint*, void*, nuint*, int> GetSecurityByName;
    /* 3 */ public delegate* unmanaged[Cdecl]<nint, char*, uint, uint, uint, void*, ulong, nint*, FspFileInfo*, int> Create;
    /* 4 */ public delegate* unmanaged[Cdecl]<nint, char*, uint, uint, nint*, FspFileInfo*, int> Open;
    /* 5 */ public delegate* unmanaged[Cdecl]<nint, nint, uint, byte, ulong, FspFileInfo*, int> Overwrite;
    /* 6 */ public delegate* unmanaged[Cdecl]<nint, nint, char*, uint, void> Cleanup;
    /* 7 */ public delegate* unmanaged[Cdecl]<nint, nint, void> Close;
    /* 8 */ public delegate* unmanaged[Cdecl]<nint, nint, void*, ulong, uint, uint*, int> Read;
    /* 9 */ public delegate* unmanaged[Cdecl]<nint, nint, void*, ulong, uint, byte, byte, uint*, FspFileInfo*, int> Write;
    /* 10 */ public delegate* unmanaged[Cdecl]<nint, nint, FspFileInfo*, int> Flush;
    /* 11 */ public delegate* unmanaged[Cdecl]<nint, nint, FspFileInfo*, int> GetFileInfo;
    /* 12 */ public delegate* unmanaged[Cdecl]<nint, nint, uint, ulong, ulong, ulong, ulong, FspFileInfo*, int> SetBasicInfo;
    /* 13 */ public delegate* unmanaged[Cdecl]<nint, nint, ulong, byte, FspFileInfo*, int> SetFileSize;
    /* 14 */ public delegate* unmanaged[Cdecl]<nint, nint, char*, int> CanDelete;
    /* 15 */ public delegate* unmanaged[Cdecl]<nint, nint, char*, char*, byte, int> Rename;
    /* 16 */ public delegate* unmanaged[Cdecl]<nint, nint, void*, nuint*, int> GetSecurity;
    /* 17 */ public delegate* unmanaged[Cdecl]<nint, nint, uint, void*, int> SetSecurity;
    /* 18 */ public delegate* unmanaged[Cdecl]<nint, nint, char*, char*, void*, uint, uint*, int> ReadDirectory;
    /* 19 */ public nint ResolveReparsePoints;
    /* 20 */ public nint GetReparsePoint;
    /* 21 */ public nint SetReparsePoint;
    /* 22 */ public nint DeleteReparsePoint;
    /* 23 */ public nint GetStreamInfo;
    /* 24 */ public nint GetDirInfoByName;
    /* 25 */ public nint Control;
    /* 26 */ public delegate* unmanaged[Cdecl]<nint, nint, char*, byte, int> SetDelete;
    /* 27 */ public nint CreateEx;
    /* 28 */ public nint OverwriteEx;
    /* 29 */ public nint GetEa;
    /* 30 */ public nint SetEa;
    /* 31 */ public nint Obsolete0;
    /* 32 */ public delegate* unmanaged[Cdecl]<nint, byte, void> DispatcherStopped;
    /* 33..63 */ public ReservedSlots Reserved;

    /// <summary>The 31 reserved slots at the end (fixed buffers cannot hold pointers, an inline array can).</summary>
    [InlineArray(31)]
    public struct ReservedSlots
    {
        private nint _slot;
    }
}
