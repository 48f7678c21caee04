using Qcow2Mount.Core.Hosting;

namespace Qcow2Mount.Cli.Mount;

/// <summary>
/// <c>qcow2mount unmount MOUNTDIR</c>: unmounts, then waits until the serving process has exited, i.e. has flushed and
/// closed its images (<see cref="IMountHost.Unmount"/>) — so an image is consistent for <c>qemu-img check</c> as soon
/// as this returns.
/// </summary>
internal sealed class UnmountCommand : ICommand
{
    public const string Help = """
        usage: qcow2mount unmount [options] MOUNTDIR|IMAGE

        Unmounts a qcow2mount mount and returns after its server has flushed and closed the images.
        Given an IMAGE file instead of MOUNTDIR, unmounts the mount that shows it (Linux: its first image;
        Windows: any of its images; Windows' MOUNTDIR is the drive, e.g. Q:, or the folder mounted on).
        Fails (exit 2) while the mount is busy, e.g. a file in it is open or a loop device uses it.
        The server is found through the pid file it writes before mounting and deletes after closing the images:
        /run/qcow2mount/MOUNTDIR.pid as root (MOUNTDIR without its leading '/', with '/' written as %2F),
        else $XDG_RUNTIME_DIR/qcow2mount/ or /tmp/qcow2mount-UID/. That directory must be your own with
        nobody else able to write to it (mount makes it mode 0700); otherwise unmount refuses.

        Options:
          -z, --lazy          detach now even if busy; the server exits when the last user is gone
                              (does not wait for it)
              --timeout S     longest wait for the server to exit (default 300)
          -h, --help          show this help
        """;

    public string Name => "unmount";

    public string Summary => "unmount MOUNTDIR and wait until its images are flushed and closed";

    public int Run(string[] args)
    {
        bool lazy = false;
        int timeoutSeconds = 300;
        var positionals = new List<string>();
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "-h" or "--help":
                    Console.WriteLine(Help);
                    return 0;
                case "-z" or "--lazy":
                    lazy = true;
                    break;
                case "--timeout" when i + 1 < args.Length && int.TryParse(args[i + 1], out timeoutSeconds) && timeoutSeconds >= 0:
                    i++;
                    break;
                case var a when a.StartsWith('-'):
                    throw new UsageException($"unknown or incomplete option '{a}' (see 'qcow2mount unmount --help')");
                default:
                    positionals.Add(args[i]);
                    break;
            }
        }

        if (positionals.Count != 1)
        {
            throw new UsageException("expected one MOUNTDIR (see 'qcow2mount unmount --help')");
        }

        var host = MountHosts.ForThisPlatform();
        string mountPoint = File.Exists(positionals[0]) ? MountPointOf(host, positionals[0]) : host.NormalizeMountPoint(positionals[0]);
        var entry = host.Find(mountPoint) ?? throw new MountFailedException($"{mountPoint}: not mounted");
        if (!entry.IsOurs)
        {
            throw new MountFailedException($"{mountPoint}: not a qcow2mount mount ({entry.FileSystemType})");
        }

        host.Unmount(mountPoint, lazy, TimeSpan.FromSeconds(timeoutSeconds));
        return 0;
    }

    /// <summary>Where <paramref name="image"/> is mounted by us (the "Unmount" verb on a .qcow2 names the image, not the place).</summary>
    private static string MountPointOf(IMountHost host, string image)
    {
        string full = Path.GetFullPath(image);
        var comparison = host.CaseSensitiveNames ? StringComparison.Ordinal : StringComparison.OrdinalIgnoreCase;
        return host.MountsOfOurs().FirstOrDefault(m => string.Equals(m.Source, full, comparison))?.MountPoint
            ?? throw new MountFailedException($"{full}: not mounted");
    }
}
