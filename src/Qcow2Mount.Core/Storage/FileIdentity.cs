using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Qcow2Mount.Core.Storage;

/// <summary>
/// Which file a path or handle really is: (st_dev, st_ino) on Linux, so a symlink, a hard link or another spelling of
/// the path is recognised as the same file. Where there is no inode (not Linux) the full path with its links resolved
/// stands in, which still catches symlinks and spellings but not hard links.
/// </summary>
public readonly partial record struct FileIdentity(ulong Device, ulong Inode, string? FullPath)
{
    /// <summary>The file <paramref name="path"/> names (links followed), or null when it does not exist.</summary>
    public static FileIdentity? Of(string path)
    {
        if (!OperatingSystem.IsLinux())
        {
            return File.Exists(path) || Directory.Exists(path) ? new FileIdentity(0, 0, RealPath(path)) : null;
        }

        Span<byte> buffer = stackalloc byte[256];
        return Stat(path, ref MemoryMarshal.GetReference(buffer)) == 0 ? FromStat(buffer) : null;
    }

    /// <summary>The file <paramref name="handle"/> has open (<paramref name="path"/> is what it was opened as).</summary>
    public static FileIdentity Of(SafeFileHandle handle, string path)
    {
        if (!OperatingSystem.IsLinux())
        {
            return new FileIdentity(0, 0, RealPath(path));
        }

        Span<byte> buffer = stackalloc byte[256];
        if (FStat(handle, ref MemoryMarshal.GetReference(buffer)) != 0)
        {
            throw new IOException($"{path}: cannot stat the open file: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        }

        return FromStat(buffer);
    }

    /// <summary>st_dev and st_ino are the first two 64-bit fields of struct stat on x86_64 and aarch64.</summary>
    private static FileIdentity FromStat(ReadOnlySpan<byte> stat) =>
        new(MemoryMarshal.Read<ulong>(stat), MemoryMarshal.Read<ulong>(stat[8..]), null);

    private static string RealPath(string path)
    {
        var info = new FileInfo(Path.GetFullPath(path));
        return info.LinkTarget is null ? info.FullName : info.ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? info.FullName;
    }

    [LibraryImport("libc", EntryPoint = "stat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Stat(string path, ref byte buffer);

    [LibraryImport("libc", EntryPoint = "fstat", SetLastError = true)]
    private static partial int FStat(SafeFileHandle fd, ref byte buffer);
}
