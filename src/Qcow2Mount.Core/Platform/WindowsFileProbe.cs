using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using Microsoft.Win32.SafeHandles;
using Qcow2Mount.Core.Interop;
using Qcow2Mount.Core.Storage;

namespace Qcow2Mount.Core.Platform;

/// <summary>
/// Windows: identity = (volume serial number, file index) from GetFileInformationByHandle, so hard links, junctions
/// and other spellings are one file; kind from .NET, with the device namespace (<c>\\.\</c>, <c>\\?\GLOBALROOT\</c>)
/// counted as devices; no pseudo file systems.
/// </summary>
[SupportedOSPlatform("windows")]
internal sealed class WindowsFileProbe : IFileProbe
{
    public FileIdentity? Identity(string path)
    {
        if (!File.Exists(path))
        {
            return Directory.Exists(path) ? new FileIdentity(0, 0, RealPath(path)) : null;
        }

        try
        {
            using var file = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            return Identity(file, path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new FileIdentity(0, 0, RealPath(path)); // not openable (in use without sharing): its path still tells
        }
    }

    public unsafe FileIdentity Identity(SafeFileHandle file, string path)
    {
        ByHandleFileInformation info;
        if (!Kernel32.GetFileInformationByHandle(file, &info))
        {
            throw new IOException($"{path}: cannot read the open file's identity: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        }

        return new FileIdentity(info.VolumeSerialNumber, ((ulong)info.FileIndexHigh << 32) | info.FileIndexLow, null);
    }

    public FileKind.Kind KindOf(string path) =>
        IsDevicePath(path) ? FileKind.Kind.BlockDevice
        : File.Exists(path) ? FileKind.Kind.Regular
        : Directory.Exists(path) ? FileKind.Kind.Directory
        : FileKind.Kind.Missing;

    public string? PseudoFileSystemOf(string path) => null;

    /// <summary>Names in the Win32 device namespace: disks, volumes and other devices, not files.</summary>
    private static bool IsDevicePath(string path) =>
        path.Replace('/', '\\') is var p
        && (p.StartsWith(@"\\.\", StringComparison.Ordinal) || p.StartsWith(@"\\?\GLOBALROOT\", StringComparison.OrdinalIgnoreCase));

    private static string RealPath(string path)
    {
        var info = new FileInfo(Path.GetFullPath(path));
        return info.LinkTarget is null ? info.FullName : info.ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? info.FullName;
    }
}
