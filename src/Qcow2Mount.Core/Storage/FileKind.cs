using Qcow2Mount.Core.Platform;

namespace Qcow2Mount.Core.Storage;

/// <summary>What kind of file a path names (lstat-free: links are followed, as opening would), asked of <see cref="IFileProbe"/>.</summary>
internal static class FileKind
{
    public enum Kind
    {
        Missing,
        Regular,
        Directory,
        BlockDevice,
        CharacterDevice,
        Fifo,
        Socket,
        Other,
    }

    public static Kind Of(string path) => HostPlatform.Files.KindOf(path);

    /// <summary>
    /// The kernel pseudo file system <paramref name="path"/> lives on ("procfs", "sysfs", …), or null for an
    /// ordinary one. Their files look regular to stat but are kernel state (/proc/self/environ, /proc/kcore,
    /// /sys/...): a hostile image must not be able to expose them as disk content.
    /// </summary>
    public static string? PseudoFileSystemOf(string path) => HostPlatform.Files.PseudoFileSystemOf(path);

    public static string Describe(Kind kind) => kind switch
    {
        Kind.BlockDevice => "block device",
        Kind.CharacterDevice => "character device",
        Kind.Fifo => "FIFO",
        Kind.Socket => "socket",
        Kind.Directory => "directory",
        Kind.Missing => "missing file",
        _ => "special file",
    };
}
