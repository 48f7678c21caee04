using Qcow2Mount.Cli.Options;
using Qcow2Mount.Core.Hosting;

namespace Qcow2Mount.Cli.Mount;

/// <summary><c>qcow2mount [mount] [options] IMAGE [IMAGE...] MOUNTDIR</c>: shows each image as a raw file in MOUNTDIR.</summary>
internal sealed class MountCommand : ICommand
{
    public const string Help = """
        usage: qcow2mount [mount] [options] IMAGE [IMAGE...] MOUNTDIR
               qcow2mount IMAGE MOUNTDIR -o ro,allow_other      (fstab / mount.fuse3 form)

        Shows each qcow2 or raw IMAGE as a raw file in MOUNTDIR (disk.qcow2 -> MOUNTDIR/disk.raw),
        readable and writable like a disk: use it with losetup -P, dd, qemu, mkfs.
        The mount runs in the background; the command returns once it serves.
        End it with 'qcow2mount unmount MOUNTDIR' (or fusermount3 -u / umount). SIGTERM, SIGINT or
        SIGHUP to the server unmount lazily: files still open (a loop device over the raw file
        counts) are served until closed, then it flushes and exits; a second signal stops it at once.
        The raw files are yours alone (mode 0600, 0400 read-only); umask=, uid=, gid= open them up.

        Options:
          -r, --read-only              open the images read-only (writes fail with EROFS)
          -o OPT[,OPT...]              mount options: ro, rw, allow_other, allow_root, auto_unmount,
                                       default_permissions, noatime, atime, sync, async, dirsync,
                                       nodev, nosuid, noexec, exec, uid=N, gid=N, umask=M, max_read=N,
                                       and every long option below as NAME[=VALUE] (e.g. cache-size=64M);
                                       defaults, dev, suid, auto, noauto, user, nouser, users, _netdev,
                                       nofail, x-*, comment=* are ignored
              --format qcow2|raw       format of the images (default: probe each; an image named
                                       *.qcow2 must then have the qcow2 magic, and a probed raw
                                       image refuses writes that would make its first sector look
                                       like another image format, EPERM, as QEMU does)
              --cache-size BYTES       qcow2 metadata cache size (k, M, G suffixes; default 32M)
              --cache-clean-interval S drop unused cache entries after S seconds (0 = never; default 600)
              --no-backing             do not open backing files (unallocated ranges read as zeros)
              --vhd                    also show each image as NAME.vhd: the same bytes followed by a
                                       fixed-VHD footer (read-only; writes to the disk part reach the image)
              --allow-backing-device   allow block/character devices as backing files
              --snapshots              also show every internal snapshot S of NAME.qcow2 as the
                                       read-only file NAME@S.raw (characters a file name cannot
                                       hold, and %, are written %XX: a/b -> NAME@a%2Fb.raw)
              --snapshot S             show only snapshot S of each image (ID or name, or
                                       snapshot.id=ID,snapshot.name=NAME); the mount is read-only
              --log FILE               append the background server's messages to FILE
              --max-threads N          FUSE worker threads (default 10)
          -f, --foreground             stay attached; Ctrl-C (SIGINT), SIGTERM or SIGHUP unmount (see above)
          -v, --verbose                report what is opened (the probed format of a backing file
                                   without backing_fmt) and repaired
          -h, --help                   show this help

        Configuration (lowest first; later sources win):
          /etc/qcow2mount.json, ~/.config/qcow2mount/config.json  e.g. { "CacheSize": "64M", "ReadOnly": true }
          environment QCOW2MOUNT_<NAME>                           e.g. QCOW2MOUNT_CACHE_SIZE=64M, QCOW2MOUNT_OPTIONS=allow_other
          the command line
          Names: ReadOnly, Format, CacheSize, CacheCleanInterval, NoBacking, Vhd, AllowBackingDevice, Snapshots, Snapshot,
          Verbose, Foreground, Options, Log, MaxThreads, Libfuse (path or soname of libfuse3, default libfuse3.so.3).

        Images are locked like QEMU does (OFD locks): a writable mount excludes every other user of
        the image, a read-only mount excludes writers (use qemu-img -U to inspect a mounted image).
        Exit status: 0 mounted, 1 usage error, 2 mount failed.
        """;

    public string Name => "mount";

    public string Summary => "mount images as raw files in a directory (the default command)";

    /// <summary>
    /// True when a command line without a verb is a mount: the first argument is an option, a path or an existing
    /// file, or the last one is an existing directory (so a missing image is reported as such, not as a verb).
    /// </summary>
    public static bool IsBareForm(IReadOnlyList<string> args) =>
        args.Count > 0 && (args[0].StartsWith('-') || args[0].Contains('/', StringComparison.Ordinal) || Path.Exists(args[0])
            || (args.Count >= 2 && Directory.Exists(args[^1])));

    public int Run(string[] args)
    {
        var host = MountHosts.ForThisPlatform();
        var parsed = MountArguments.Parse(args, host);
        if (parsed.Help)
        {
            Console.WriteLine(Help);
            return 0;
        }

        var positionals = parsed.Positionals;
        bool placeChosen = positionals.Count > 0 && !host.NamesMountPoint(positionals);
        if (placeChosen)
        {
            // A double-click (Windows): only images; the host picks the place and shows it once the mount serves. An
            // image that is mounted already is shown where it is instead.
            if (MountedAlready(host, positionals) is { } place)
            {
                host.Reveal(place);
                return 0;
            }

            positionals.Add(host.ChooseMountPoint(Path.GetFullPath(positionals[0]), out _));
        }

        var request = MountRequest.From(positionals, ConfigLoader.Load(parsed.Settings), host);
        if (parsed.DaemonChild)
        {
            var background = host.Background ?? throw new UsageException($"{MountArguments.DaemonChildFlag}: this platform has no background mounts");
            using var server = background.Detach(request.LogFile);

            // The working directory is left once the images are open (a relative data file name is relative to it).
            return MountServer.Serve(
                host,
                request,
                mount =>
                {
                    PrintMounted(mount);
                    server.ReportReady();
                },
                beforeMount: server.LeaveWorkingDirectory);
        }

        if (request.Foreground || host.Background is null)
        {
            return MountServer.Serve(host, request, mount =>
            {
                PrintMounted(mount);
                if (placeChosen)
                {
                    host.Reveal(mount.MountPoint);
                }
            });
        }

        // The server checks the mount point and the images itself, first thing (MountServer.Serve), and its one-line
        // error and exit code come back through the parent: checking them here as well put a second, cold run of the
        // same checks (0.3 ms, perf) before the server even started.
        return host.Background.Start(["mount", MountArguments.DaemonChildFlag, .. args]);
    }

    /// <summary>
    /// Where the images are mounted when the first is (a second double-click); null when it is not. Any other image
    /// of the command that is mounted already, or mounted elsewhere, is an error.
    /// </summary>
    private static string? MountedAlready(IMountHost host, List<string> images)
    {
        var mounted = host.MountsOfOurs().ToList();
        string? PlaceOf(string image) => mounted.FirstOrDefault(m => string.Equals(m.Source, Path.GetFullPath(image), StringComparison.OrdinalIgnoreCase))?.MountPoint;
        string? first = PlaceOf(images[0]);
        foreach (string image in images.Skip(first is null ? 0 : 1))
        {
            if (PlaceOf(image) is { } place && place != first)
            {
                throw new MountFailedException($"{Path.GetFullPath(image)}: mounted already on {place}");
            }
        }

        return first;
    }

    /// <summary>One line per raw file: where it is and which image it shows.</summary>
    private static void PrintMounted(IMount mount)
    {
        foreach (var file in mount.FileSystem.Files)
        {
            Console.WriteLine($"{Path.Combine(mount.MountPoint, file.Name)}  ({file.SourcePath}{(mount.FileSystem.IsReadOnly ? ", read-only" : "")})");
        }

        Console.Out.Flush();
    }
}
