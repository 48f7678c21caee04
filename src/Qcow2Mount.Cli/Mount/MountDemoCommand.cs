using Qcow2Mount.Core.Qcow2.Create;

namespace Qcow2Mount.Cli.Mount;

/// <summary>
/// <c>qcow2mount demo [MOUNTDIR]</c> (also a bare <c>qcow2mount MOUNTDIR</c>): the quick start. Creates a small demo
/// image if there is none, mounts it in the background and prints what to try next.
/// </summary>
internal sealed class MountDemoCommand : ICommand
{
    public const string Help = """
        usage: qcow2mount demo [MOUNTDIR]
               qcow2mount MOUNTDIR

        Creates a 256 MiB demo image (/tmp/qcow2mount-demo/demo.qcow2, reused if present), mounts it
        at MOUNTDIR (default /tmp/qcow2mount-demo/mnt, created if missing) and prints what to try next.
        """;

    private const long DemoSize = 256L << 20;

    public string Name => "demo";

    public string Summary => "create a small demo image, mount it and show what to try";

    public static string DemoDirectory => Path.Combine(Path.GetTempPath(), "qcow2mount-demo");

    public int Run(string[] args)
    {
        if (args is ["-h" or "--help", ..])
        {
            Console.WriteLine(Help);
            return 0;
        }

        if (args.Length > 1 || args is [['-', ..]])
        {
            throw new UsageException("expected at most one MOUNTDIR (see 'qcow2mount demo --help')");
        }

        string mountPoint = Path.GetFullPath(args.Length == 1 ? args[0] : Path.Combine(DemoDirectory, "mnt"));
        Directory.CreateDirectory(mountPoint);
        string image = CreateImage();

        int code = new MountCommand().Run([image, mountPoint]);
        if (code != 0)
        {
            return code;
        }

        string raw = Path.Combine(mountPoint, Core.Vfs.RawNames.For(image));
        Console.WriteLine($"""

            The demo image {image} is mounted: {raw} is its raw disk. Try:
              ls -l {mountPoint}
              dd if=/dev/urandom of={raw} bs=1M count=8 conv=notrunc,fsync
              sudo losetup -fP --show {raw}        # then: sudo mkfs.ext4 /dev/loopN; sudo mount /dev/loopN /mnt
              qemu-img info -U {image}
            When done (detach loop devices first: sudo losetup -d /dev/loopN):
              qcow2mount unmount {mountPoint}
            """);
        return 0;
    }

    /// <summary>A qcow2 image (extended L2, 128 KiB clusters) made by our own creator; an existing demo image is reused.</summary>
    private static string CreateImage()
    {
        Directory.CreateDirectory(DemoDirectory);
        string qcow2 = Path.Combine(DemoDirectory, "demo.qcow2");
        if (!File.Exists(qcow2))
        {
            Qcow2Creator.Create(qcow2, new Qcow2CreateOptions { Size = DemoSize, ClusterSize = 128 * 1024, ExtendedL2 = true });
        }

        return qcow2;
    }
}
