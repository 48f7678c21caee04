using Qcow2Mount.Core.Vfs;

namespace Qcow2Mount.Core.Hosting;

/// <summary>
/// The platform's way of showing an <see cref="IVirtualFileSystem"/> as a directory (FUSE on Linux, WinFsp on
/// Windows) and of managing such mounts: what the command line drives for mount, serve, stop, unmount and "what is
/// mounted where". Everything platform-specific stays behind it — on Linux the pid files, the background server, the
/// mount table, /dev/fuse and libfuse; on Windows drive letters and the WinFsp DLL. Failures a user can act on are
/// one-line <see cref="MountFailedException"/>s (or other <see cref="IOException"/>s).
/// </summary>
public interface IMountHost
{
    /// <summary>False where the platform compares names ignoring case (Windows): the raw names are then made unique ignoring case.</summary>
    bool CaseSensitiveNames { get; }

    /// <summary>Mounting in a server that detaches from the command, or null where the platform has none (the mount then serves in the command's own process).</summary>
    IBackgroundMounting? Background { get; }

    /// <summary>
    /// The mount point as the platform names it, from what the user typed: an absolute directory without a trailing
    /// separator on Linux; a drive letter ("Q:") or a directory on Windows.
    /// </summary>
    string NormalizeMountPoint(string mountPoint);

    /// <summary>
    /// True when the last of a mount's positional arguments names the place (Linux: always, MOUNTDIR is required;
    /// Windows: a drive such as "Q:", or a path that is not an existing file). False: every argument is an image
    /// and the place is <see cref="ChooseMountPoint"/>'s, shown with <see cref="Reveal"/> once mounted (a double-click).
    /// </summary>
    bool NamesMountPoint(IReadOnlyList<string> positionals);

    /// <summary>
    /// True when <paramref name="option"/> (one item of <c>-o</c>, e.g. <c>allow_other</c> or <c>uid=1000</c>) is a
    /// platform mount option this host passes on. A known option with a bad value throws an
    /// <see cref="ArgumentException"/> whose message is the usage error.
    /// </summary>
    bool AcceptsOption(string option);

    /// <summary>Checks what can be checked before an image is opened (the platform's driver and library, the mount point), so a failure leaves nothing behind.</summary>
    void Check(MountSpec spec);

    /// <summary>
    /// Makes this process the server of <paramref name="spec"/>'s mount point until the result is disposed, which is
    /// after the images are closed (Linux: the pid file <c>unmount</c> waits on).
    /// </summary>
    IDisposable BeginServing(MountSpec spec);

    /// <summary>
    /// Mounts <paramref name="fileSystem"/> (not owned: the caller closes it after <see cref="IMount.Serve"/>).
    /// <paramref name="onReady"/> runs once the platform serves requests; <paramref name="log"/> gets what the mount
    /// has to say while serving (I/O errors with file and offset).
    /// </summary>
    IMount Mount(IVirtualFileSystem fileSystem, MountSpec spec, Action<IMount> onReady, Action<string> log);

    /// <summary>Every mount of ours (its source is the first image it shows), for "is this image mounted already?".</summary>
    IEnumerable<MountEntry> MountsOfOurs();

    /// <summary>
    /// Where a double-click mounts <paramref name="image"/> when nobody names a place, and the place is made ready:
    /// Linux a free folder under $XDG_RUNTIME_DIR/qcow2mount (NAME, NAME-2, …; created); Windows the first free drive
    /// letter. <paramref name="created"/> says whether the caller should remove it again if the mount fails.
    /// </summary>
    string ChooseMountPoint(string image, out bool created);

    /// <summary>Shows <paramref name="mountPoint"/> to the user (the desktop's file manager, Explorer); without one, prints it.</summary>
    void Reveal(string mountPoint);

    /// <summary>What is mounted at <paramref name="mountPoint"/> (a normalised one; the topmost mount), ours or not; null when nothing is.</summary>
    MountEntry? Find(string mountPoint);

    /// <summary>
    /// Unmounts one of our mounts and waits, up to <paramref name="timeout"/>, until its server has flushed and closed
    /// the images. <paramref name="lazy"/>: detach even while busy, and do not wait.
    /// </summary>
    void Unmount(string mountPoint, bool lazy, TimeSpan timeout);
}
