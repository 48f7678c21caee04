using Qcow2Mount.Core.Qcow2;

namespace Qcow2Mount.Core.Platform;

/// <summary>
/// The engine's platform needs, chosen once at run time: Windows' implementations on Windows, Linux's elsewhere (the
/// project builds for Linux and Windows only). Every native call of the engine is behind one of these.
/// </summary>
internal static class HostPlatform
{
    public static IFileSpace Space { get; } = OperatingSystem.IsWindows() ? new WindowsFileSpace() : new LinuxFileSpace();

    public static IFileLocking Locking { get; } = OperatingSystem.IsWindows() ? new WindowsFileLocking() : new LinuxFileLocking();

    public static IFileProbe Files { get; } = OperatingSystem.IsWindows() ? new WindowsFileProbe() : new LinuxFileProbe();

    private static readonly Lazy<ZstdCodec?> LazyZstd = new(NativeZstdCodec.TryLoad);

    /// <summary>The system libzstd (Linux with libzstd1), loaded at first use, or null: zstd clusters then use the managed port (<see cref="ZstdCodec"/>).</summary>
    public static ZstdCodec? NativeZstd => LazyZstd.Value;

    /// <summary>How an image's backing and data file names resolve on this host.</summary>
    public static HostPathRules Paths => OperatingSystem.IsWindows() ? HostPathRules.Windows : HostPathRules.Posix;
}
