namespace Qcow2Mount.WinFsp.Interop;

/// <summary>Windows file attribute, access, create-option and WinFsp cleanup-flag bits the callbacks read or report.</summary>
internal static class WinFspConstants
{
    /// <summary>The control device of disk volumes (a network volume would use "WinFsp.Net" and a Prefix).</summary>
    public const string DiskDeviceName = "WinFsp.Disk";

    public const uint FileAttributeReadOnly = 0x1;
    public const uint FileAttributeDirectory = 0x10;
    public const uint FileAttributeNormal = 0x80;

    /// <summary>CreateOptions: the caller wants a directory / anything but a directory.</summary>
    public const uint FileDirectoryFile = 0x1;
    public const uint FileNonDirectoryFile = 0x40;

    /// <summary>GrantedAccess bits that change the file's data.</summary>
    public const uint FileWriteData = 0x2;
    public const uint FileAppendData = 0x4;

    /// <summary>Cleanup flags (winfsp-notes §5).</summary>
    public const uint CleanupDelete = 0x01;
    public const uint CleanupSetLastAccessTime = 0x20;
    public const uint CleanupSetLastWriteTime = 0x40;
    public const uint CleanupSetChangeTime = 0x80;

    /// <summary>SetBasicInfo: attribute value meaning "leave the attributes alone".</summary>
    public const uint InvalidFileAttributes = 0xFFFFFFFF;
}
