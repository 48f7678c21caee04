using System.Diagnostics;
using Qcow2Mount.Core.Hosting;
using Qcow2Mount.Core.Vfs;
using Qcow2Mount.Fuse.Interop;

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

    /// <summary>MOUNTDIR is always given (the desktop's double-click runs the open verb, which names it).</summary>
    public bool NamesMountPoint(IReadOnlyList<string> positionals) => true;

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

    /// <summary>How many NAME-N folders <see cref="ChooseMountPoint"/> tries (each one holds a mount of another image of that name).</summary>
    private const int MaxFolderSuffix = 100;

    /// <summary>Longest wait for xdg-open; an opener still running after that is left to run.</summary>
    private static readonly TimeSpan OpenerTimeout = TimeSpan.FromSeconds(30);

    public IEnumerable<MountEntry> MountsOfOurs() =>
        MountTable.Read().Where(e => e.Type == MountTable.OurType).Select(e => new MountEntry(e.MountPoint, e.Source, e.Type, IsOurs: true));

    /// <summary>
    /// $XDG_RUNTIME_DIR/qcow2mount/NAME (private to the user, emptied at logout; without XDG_RUNTIME_DIR the pid file
    /// folder): the first of NAME, NAME-2, … that is neither a mount point nor a file nor a folder with something in it.
    /// </summary>
    public string ChooseMountPoint(string image, out bool created)
    {
        string? runtime = Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR");
        string root = Path.TrimEndingDirectorySeparator(
            runtime is { Length: > 0 } ? Path.Combine(Path.GetFullPath(runtime), "qcow2mount") : MountPidFile.DirectoryPath);
        string file = Path.GetFileName(image);
        string name = file.Length > ".qcow2".Length && file.EndsWith(".qcow2", StringComparison.OrdinalIgnoreCase) ? file[..^".qcow2".Length] : file;
        for (int i = 1; i <= MaxFolderSuffix; i++)
        {
            string folder = Path.Combine(root, i == 1 ? name : $"{name}-{i}");
            bool free = Directory.Exists(folder) ? !Directory.EnumerateFileSystemEntries(folder).Any() : !Path.Exists(folder);
            if (free && MountTable.Find(folder) is null)
            {
                created = !Directory.Exists(folder);
                Directory.CreateDirectory(folder);
                return folder;
            }
        }

        throw new MountFailedException($"{Path.Combine(root, name)}: that folder and {MaxFolderSuffix - 1} more like it are in use");
    }

    /// <summary>xdg-open MOUNTPOINT; without xdg-open, or when it fails, the folder is printed.</summary>
    public void Reveal(string mountPoint)
    {
        string? opener = (Environment.GetEnvironmentVariable("PATH") ?? string.Empty)
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, "xdg-open"))
            .FirstOrDefault(File.Exists);
        if (opener is null)
        {
            Console.WriteLine(mountPoint);
            return;
        }

        var start = new ProcessStartInfo(opener) { UseShellExecute = false };
        start.ArgumentList.Add(mountPoint);
        try
        {
            using var process = Process.Start(start) ?? throw new System.ComponentModel.Win32Exception("not started");
            if (!process.WaitForExit(OpenerTimeout) || process.ExitCode == 0)
            {
                return;
            }

            Console.Error.WriteLine($"qcow2mount: xdg-open {mountPoint} failed (exit code {process.ExitCode})");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            Console.Error.WriteLine($"qcow2mount: cannot run {opener}: {e.Message}");
        }

        Console.WriteLine(mountPoint);
    }

    public MountEntry? Find(string mountPoint) =>
        MountTable.Find(mountPoint) is { } e ? new MountEntry(e.MountPoint, e.Source, e.Type, e.Type == MountTable.OurType) : null;

    /// <summary>Unmounts, then waits until the server found through its pid file has exited, i.e. has flushed and closed its images.</summary>
    public void Unmount(string mountPoint, bool lazy, TimeSpan timeout)
    {
        int? server = MountPidFile.ReadLive(mountPoint);

        // Opened before the unmount, so the descriptor names the server and never a process that reuses its pid later.
        int exited = server is int pid && !lazy ? Libc.PidfdOpen(pid) : -1;
        try
        {
            if (Unmounter.Unmount(mountPoint, lazy) is { } error)
            {
                throw new MountFailedException(error);
            }

            if (server is null || lazy)
            {
                return;
            }

            if (!WaitForExit(server.Value, exited, timeout))
            {
                throw new MountFailedException($"{mountPoint}: unmounted, but server {server} has not exited after {timeout.TotalSeconds} s");
            }
        }
        finally
        {
            if (exited >= 0)
            {
                Libc.Close(exited);
            }
        }
    }

    /// <summary>
    /// Waits for the server's exit: on its pidfd, woken the moment it exits (polling /proc every 20 ms added 10 ms to
    /// an unmount on average, a third of it); without a pidfd (a kernel before 5.3), by polling its state every 2 ms.
    /// </summary>
    private static unsafe bool WaitForExit(int pid, int pidfd, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (MountPidFile.IsRunning(pid))
        {
            var left = timeout - clock.Elapsed;
            if (left <= TimeSpan.Zero)
            {
                return false;
            }

            if (pidfd >= 0)
            {
                var poll = new PollFd { Fd = pidfd, Events = Libc.POLLIN };
                _ = Libc.Poll(&poll, 1, (int)Math.Min(left.TotalMilliseconds + 1, int.MaxValue));
            }
            else
            {
                Thread.Sleep(2);
            }
        }

        return true;
    }
}
