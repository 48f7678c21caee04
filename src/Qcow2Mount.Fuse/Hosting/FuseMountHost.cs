using System.Diagnostics;
using Qcow2Mount.Core.Hosting;
using Qcow2Mount.Core.Vfs;

namespace Qcow2Mount.Fuse.Hosting;

/// <summary>
/// Mounts on Linux through FUSE: libfuse mounts (fusermount3 for a user), <see cref="FuseHost"/> serves. Mounts are
/// found in /proc/self/mountinfo (<see cref="MountTable"/>), their servers through pid files (<see cref="MountPidFile"/>),
/// and a mount without <c>-f</c> is served by a background process (<see cref="BackgroundMounting"/>).
/// </summary>
internal sealed class FuseMountHost : IMountHost
{
    /// <summary>Accepted by fuse_new in libfuse 3.14 and meaningful here (fuse-notes §7).</summary>
    private static readonly HashSet<string> Flags = new(StringComparer.Ordinal)
    {
        "allow_other", "allow_root", "auto_unmount", "default_permissions",
        "atime", "noatime", "sync", "async", "dirsync", "nodev", "nosuid", "exec", "noexec",
    };

    private static readonly HashSet<string> Valued = new(StringComparer.Ordinal) { "uid", "gid", "umask", "max_read" };

    public bool CaseSensitiveNames => true;

    public IBackgroundMounting? Background { get; } = new BackgroundMounting();

    public string NormalizeMountPoint(string mountPoint) =>
        Path.TrimEndingDirectorySeparator(Path.GetFullPath(mountPoint)) is { Length: > 0 } mp ? mp : "/";

    /// <summary>uid=, gid= and umask= are applied by <see cref="FuseHost"/>: a bad value is refused here, before anything is opened.</summary>
    public bool AcceptsOption(string option)
    {
        int eq = option.IndexOf('=', StringComparison.Ordinal);
        string name = eq < 0 ? option : option[..eq];
        if (!(eq < 0 ? Flags.Contains(name) : Valued.Contains(name)))
        {
            return false;
        }

        try
        {
            _ = NodeOwner.FromOptions([option], 0, 0, out _);
            return true;
        }
        catch (FuseMountException e)
        {
            throw new ArgumentException(e.Message);
        }
    }

    public void Check(MountSpec spec) => MountPreflight.Check(spec);

    /// <summary>Children (fusermount3) must not inherit the caller's descriptors; the pid file names this process.</summary>
    public IDisposable BeginServing(MountSpec spec)
    {
        InheritedDescriptors.MarkCloseOnExec();
        return MountPidFile.Write(spec.MountPoint);
    }

    public IMount Mount(IVirtualFileSystem fileSystem, MountSpec spec, Action<IMount> onReady, Action<string> log)
    {
        var settings = new FuseMountSettings
        {
            MountPoint = spec.MountPoint,
            FsName = fileSystem.Files.Count > 0 ? fileSystem.Files[0].SourcePath : "qcow2mount",
            ReadOnly = spec.ReadOnly,
            Options = spec.Options,
            MaxThreads = spec.Threads,
            LibraryPath = spec.NativeLibrary,
        };
        return FuseHost.Mount(new FuseFileSystem(fileSystem, log), settings, onReady);
    }

    public MountEntry? Find(string mountPoint) =>
        MountTable.Find(mountPoint) is { } e ? new MountEntry(e.MountPoint, e.Source, e.Type, e.Type == MountTable.OurType) : null;

    /// <summary>Unmounts, then waits until the server found through its pid file has exited, i.e. has flushed and closed its images.</summary>
    public void Unmount(string mountPoint, bool lazy, TimeSpan timeout)
    {
        int? server = MountPidFile.ReadLive(mountPoint);
        if (Unmounter.Unmount(mountPoint, lazy) is { } error)
        {
            throw new MountFailedException(error);
        }

        if (server is null || lazy)
        {
            return;
        }

        var clock = Stopwatch.StartNew();
        while (MountPidFile.IsRunning(server.Value))
        {
            if (clock.Elapsed > timeout)
            {
                throw new MountFailedException($"{mountPoint}: unmounted, but server {server} has not exited after {timeout.TotalSeconds} s");
            }

            Thread.Sleep(20);
        }
    }
}
