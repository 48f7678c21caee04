using System.Buffers.Binary;
using Qcow2Mount.Fuse.Tests.Support;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Fuse.Tests;

/// <summary>
/// Backing chains and external data files through a real mount: the mounted raw file equals <c>qemu-img convert</c>
/// of the image, overlays of one base share one open of it, <c>--verbose</c> says which format was probed.
/// </summary>
[Category(TestCategories.Mount)]
[Category(TestCategories.Slow)]
public sealed class BackingChainMountTests : ScratchFixture
{
    private const long K = 1024;

    [OneTimeSetUp]
    public void RequireTools()
    {
        RequiredTools.Require("qemu-img");
        RequiredTools.Require("qemu-io");
    }

    /// <summary>Raw and qcow2 bases; overlays smaller and larger than the layer below; standard and extended L2 tops.</summary>
    public static IEnumerable<TestCaseData> Layouts()
    {
        yield return Layout(new ChainLayout("raw", 3L << 20, 5L << 20, 4L << 20, TopExtendedL2: true));
        yield return Layout(new ChainLayout("raw", 6L << 20, 2L << 20, 4L << 20, TopExtendedL2: false));
        yield return Layout(new ChainLayout("qcow2", 4L << 20, 4L << 20, 6L << 20, TopExtendedL2: true));
        yield return Layout(new ChainLayout("qcow2", 6L << 20, 2L << 20, 4L << 20, TopExtendedL2: false));

        static TestCaseData Layout(ChainLayout l) => new TestCaseData(l).SetArgDisplayNames(l.Name);
    }

    [TestCaseSource(nameof(Layouts))]
    public void Mount_ThreeLayerChain_RawFileEqualsQemuConvertOfTop(ChainLayout layout)
    {
        using var dir = new TempDir("mount-chain");
        string top = layout.Build(dir);
        string mnt = Scratch.NewDirectory("mnt");

        Cli.Mount("--read-only", top, mnt);
        try
        {
            Images.AssertSameBytes(File.ReadAllBytes(Path.Combine(mnt, "top.raw")), Images.QemuRaw(Scratch, top), layout.Name);
        }
        finally
        {
            Cli.Unmount(mnt);
        }
    }

    [Test]
    public void Mount_TwoOverlaysOfOneBase_BaseOpenedOnceAndBothReadLikeQemu()
    {
        string baseImage = Images.Qcow2(Scratch, "base.qcow2", "8M", "write -P 0x11 0 8M");
        string a = Overlay("a.qcow2", baseImage, "write -P 0xa1 1M 64k");
        string b = Overlay("b.qcow2", baseImage, "write -P 0xb1 2M 4k");
        string mnt = Scratch.NewDirectory("mnt");

        Cli.Mount(a, b, mnt);

        int pid = Scratch.ServerPid(mnt) ?? throw new AssertionException("no pid file for the mount");
        var opened = OpenFilesOf(pid);
        Assert.Multiple(() =>
        {
            Assert.That(opened.Count(f => f == baseImage), Is.EqualTo(1), $"open files of the server: {string.Join(", ", opened)}");
            Assert.That(opened.Count(f => f == a), Is.EqualTo(1));
            Assert.That(opened.Count(f => f == b), Is.EqualTo(1));
        });
        Images.AssertSameBytes(File.ReadAllBytes(Path.Combine(mnt, "a.raw")), Images.QemuRaw(Scratch, a), "a.qcow2");
        Images.AssertSameBytes(File.ReadAllBytes(Path.Combine(mnt, "b.raw")), Images.QemuRaw(Scratch, b), "b.qcow2");

        // A write into one overlay copies from the shared base and shows in that overlay only.
        var data = new byte[3000];
        new Random(8).NextBytes(data);
        using (var file = File.OpenHandle(Path.Combine(mnt, "a.raw"), FileMode.Open, FileAccess.ReadWrite))
        {
            RandomAccess.Write(file, data, 5000);
        }

        Cli.Unmount(mnt);
        var expectedB = Images.QemuRaw(Scratch, b);
        Assert.Multiple(() =>
        {
            Assert.That(ProcessRunner.Capture("qemu-img", "check", a).ExitCode, Is.Zero);
            Assert.That(Images.QemuRaw(Scratch, a).AsSpan(5000, data.Length).SequenceEqual(data), Is.True, "a.qcow2 after unmount");
            Assert.That(expectedB.AsSpan(5000, data.Length).ContainsAnyExcept((byte)0x11), Is.False, "b.qcow2 still shows the base");
        });
    }

    [Test]
    public void Mount_Verbose_SaysWhichFormatWasProbedForABackingFileWithoutBackingFmt()
    {
        string baseRaw = Scratch.RawImage("base.img", 2 << 20);
        string overlay = Overlay("overlay.qcow2", baseRaw, "write -P 0x42 0 4k", format: "raw");
        RemoveBackingFormat(overlay);
        string mnt = Scratch.NewDirectory("mnt");

        var result = Cli.Run("--verbose", "--read-only", overlay, mnt);

        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(result.StandardError, Does.Contain($"backing file '{baseRaw}' has no backing_fmt; probed as raw"));
        Images.AssertSameBytes(File.ReadAllBytes(Path.Combine(mnt, "overlay.raw")), Images.QemuRaw(Scratch, overlay), "probed chain");
        Cli.Unmount(mnt);

        var quiet = Cli.Run("--read-only", overlay, mnt);
        Assert.That(quiet.StandardError, Does.Not.Contain("probed"), "without --verbose");
    }

    [TestCase(true)]
    [TestCase(false)]
    public void Mount_ExternalDataFileNamedRelativeToTheWorkingDirectory_ReadsAndWritesLikeQemu(bool dataFileRaw)
    {
        // As qemu-img: the relative name data.bin is looked up in the working directory (here data/), not next to
        // the image (here images/).
        string images = Scratch.NewDirectory("images");
        string data = Scratch.NewDirectory("data");
        string image = Path.Combine(images, "disk.qcow2");
        InDirectory(data, "qemu-img", "create", "-q", "-f", "qcow2", "-o", $"data_file=data.bin,data_file_raw={(dataFileRaw ? "on" : "off")}", image, "4M");
        InDirectory(data, "qemu-io", "-c", "write -P 0x61 0 1M", "-c", "write -z 256k 64k", "-c", "write -P 0x62 3000k 5000", image);
        string oracle = Scratch.PathOf("oracle.raw");
        InDirectory(data, "qemu-img", "convert", "-O", "raw", image, oracle);
        string mnt = Scratch.NewDirectory("mnt");

        InDirectory(data, "dotnet", Cli.DllPath, image, mnt);
        Images.AssertSameBytes(File.ReadAllBytes(Path.Combine(mnt, "disk.raw")), File.ReadAllBytes(oracle), "mounted");
        using (var file = File.OpenHandle(Path.Combine(mnt, "disk.raw"), FileMode.Open, FileAccess.ReadWrite))
        {
            RandomAccess.Write(file, Enumerable.Repeat((byte)0x63, 10000).ToArray(), 2 << 20);
        }

        Cli.Unmount(mnt);
        Assert.Multiple(() =>
        {
            Assert.That(ProcessRunner.Capture("sh", "-c", $"cd '{data}' && qemu-img check '{image}'").ExitCode, Is.Zero, "qemu-img check");
            Assert.That(ProcessRunner.Capture("sh", "-c", $"cd '{data}' && qemu-io -c 'read -P 0x63 2M 10000' -c 'read -P 0x61 0 256k' '{image}'").StandardOutput, Does.Not.Contain("Pattern verification failed"));
            Assert.That(File.Exists(Path.Combine(images, "data.bin")), Is.False, "nothing created next to the image");
        });
    }

    private string Overlay(string name, string backing, string qemuIoCommand, string format = "qcow2")
    {
        string path = Scratch.PathOf(name);
        QemuTools.Ok("qemu-img", "create", "-q", "-f", "qcow2", "-o", "extended_l2=on", "-b", backing, "-F", format, path);
        QemuTools.Ok("qemu-io", "-f", "qcow2", "-c", qemuIoCommand, path);
        return path;
    }

    /// <summary>Renames the backing format header extension (0xE2792ACA) to an unknown type, which readers ignore.</summary>
    private static void RemoveBackingFormat(string image)
    {
        byte[] bytes = File.ReadAllBytes(image);
        int at = bytes.AsSpan(0, 4096).IndexOf(new byte[] { 0xE2, 0x79, 0x2A, 0xCA });
        Assert.That(at, Is.GreaterThan(0), "backing format extension");
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(at), 0x7E570001);
        File.WriteAllBytes(image, bytes);
        Assert.That(QemuTools.Ok("qemu-img", "info", image), Does.Not.Contain("backing file format"));
    }

    private static void InDirectory(string directory, string program, params string[] args)
    {
        string command = $"cd '{directory}' && exec {program} {string.Join(' ', args.Select(a => "'" + a.Replace("'", "'\\''", StringComparison.Ordinal) + "'"))}";
        var result = ProcessRunner.Capture("sh", "-c", command);
        Assert.That(result.ExitCode, Is.Zero, $"{program} {string.Join(' ', args)}: {result}");
    }

    private static List<string> OpenFilesOf(int pid)
    {
        var files = new List<string>();
        foreach (string fd in Directory.GetFiles($"/proc/{pid}/fd"))
        {
            try
            {
                if (new FileInfo(fd).LinkTarget is { } target)
                {
                    files.Add(target);
                }
            }
            catch (IOException)
            {
                // Closed meanwhile.
            }
        }

        return files;
    }
}
