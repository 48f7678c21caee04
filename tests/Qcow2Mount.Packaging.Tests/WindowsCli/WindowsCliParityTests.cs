using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Packaging.Tests.WindowsCli;

/// <summary>
/// Every verb but the mount verbs, run by the Linux build and by the win-x64 build under Wine on the same image
/// matrix (qemu-img and qemu-io make it once, then it is copied into a Linux twin and a Windows twin): the exit codes,
/// the output (normalised by <see cref="WindowsCli.Normalise"/>) and every file a verb writes must be equal. The
/// Windows twin's overlay names its backing file <c>..\base.qcow2</c>, the Linux twin's <c>../base.qcow2</c>: the
/// Windows build must follow a Windows name as Windows does (a backslash in a name is an ordinary character on Linux).
/// </summary>
[TestFixture]
[NonParallelizable]
[Category(TestCategories.Qemu)]
[Category(TestCategories.Slow)]
internal sealed class WindowsCliParityTests
{
    private string _root = null!;

    private string Linux => Path.Combine(_root, "lin");

    private string Windows => Path.Combine(_root, "win");

    /// <summary>
    /// (arguments with '/' separators, files the verb writes, a file to copy to the first written one first, whether
    /// the written image holds compressed clusters: .NET's deflate output differs between its Linux and Windows builds,
    /// and zstd is libzstd on Linux but the managed port on Windows, so such an image must have the same length, the
    /// same content and check clean, not the same bytes). zstd.qcow2 (qemu-img's zstd clusters) is read by the managed
    /// port on Windows.
    /// </summary>
    private static readonly object[] Verbs =
    [
        Case("info plain.qcow2"),
        Case("info --output=json plain.qcow2"),
        Case("info --output=json ext.qcow2"),
        Case("info --backing-chain sub/top.qcow2"),
        Case("info --backing-chain --output=json sub/top.qcow2"),
        Case("check sub/top.qcow2"),
        Case("check --output=json ext.qcow2"),
        Case("map sub/top.qcow2"),
        Case("map --output=json sub/top.qcow2"),
        Case("map --output=json ext.qcow2"),
        Case("map -f raw --output=json data.raw"),
        Case("compare sub/top.qcow2 base.qcow2"),
        Case("compare -F raw ext.qcow2 ext.raw"),
        Case("convert -O raw sub/top.qcow2 out/top.raw", "out/top.raw"),
        Case("convert -O qcow2 sub/top.qcow2 out/top-flat.qcow2", "out/top-flat.qcow2"),
        Case("convert -c -O qcow2 plain.qcow2 out/plain-c.qcow2", "out/plain-c.qcow2", deflated: true),
        Case("convert -c -O qcow2 -o compression_type=zstd plain.qcow2 out/plain-zstd.qcow2", "out/plain-zstd.qcow2", deflated: true),
        Case("compare -F raw zstd.qcow2 ext.raw"),
        Case("convert -f raw -O qcow2 -o extended_l2=on,cluster_size=128k data.raw out/data-ext.qcow2", "out/data-ext.qcow2"),
        Case("create -f qcow2 out/new.qcow2 64M", "out/new.qcow2"),
        Case("create -f raw out/new.raw 16M", "out/new.raw"),
        Case("create -f qcow2 -o extended_l2=on,cluster_size=128k out/new-ext.qcow2 1G", "out/new-ext.qcow2"),
        Case("resize out/resized.qcow2 +16M", "out/resized.qcow2", copyFrom: "plain.qcow2"),
        Case("measure -O qcow2 sub/top.qcow2"),
        Case("measure --output=json -O qcow2 --size 1G"),
        Case("advise sub/top.qcow2"),
        Case("advise --output=json ext.qcow2"),
    ];

    [OneTimeSetUp]
    public void MakeImages()
    {
        RequiredTools.Require("qemu-img", "qemu-io", "wine");
        _root = WindowsCli.NewScratch("wincli");
        string made = Path.Combine(_root, "made");
        Directory.CreateDirectory(Path.Combine(made, "sub"));
        Directory.CreateDirectory(Path.Combine(made, "out"));
        string At(string name) => Path.Combine(made, name);

        QemuTools.Create(At("base.qcow2"), 64 << 20);
        QemuTools.QemuIo(At("base.qcow2"), "write -P 0x11 0 1M", "write -P 0x22 8M 512k");
        QemuTools.QemuImg("create", "-q", "-f", "qcow2", "-b", "../base.qcow2", "-F", "qcow2", At("sub/top.qcow2"));
        QemuTools.QemuIo(At("sub/top.qcow2"), "write -P 0x33 512k 1M", "write -z 8M 64k", "discard 16M 64k");
        QemuTools.Create(At("plain.qcow2"), 32 << 20);
        QemuTools.QemuIo(At("plain.qcow2"), "write -P 0x44 0 2M", "write -z 4M 1M", "write -P 0x55 10M 192k");
        QemuTools.Create(At("ext.qcow2"), 16 << 20, new Dictionary<string, string> { ["extended_l2"] = "on", ["cluster_size"] = "128k" });
        QemuTools.QemuIo(At("ext.qcow2"), "write -P 0x66 0 4k", "write -P 0x67 132k 8k", "write -z 1M 64k", "write -P 0x68 2M 256k");
        QemuTools.ConvertToRaw(At("ext.qcow2"), At("ext.raw"));
        QemuTools.QemuImg("convert", "-c", "-O", "qcow2", "-o", "compression_type=zstd", At("ext.qcow2"), At("zstd.qcow2"));
        var data = new byte[4 << 20];
        new Random(15).NextBytes(data);
        data.AsSpan(1 << 20, 1 << 20).Clear();
        File.WriteAllBytes(At("data.raw"), data);

        // The twins hold no holes: the Linux build sees a file's holes (SEEK_HOLE, st_blocks: map, disk size, advise's
        // preallocation guess), and Wine can show none (see WineHostBehaviourTests), so sparse inputs would differ.
        foreach (string twin in new[] { Linux, Windows })
        {
            ProcessRunner.Run("cp", ["-a", "--sparse=never", made, twin]);
        }

        QemuTools.QemuImg("rebase", "-u", "-b", "..\\base.qcow2", "-F", "qcow2", Path.Combine(Windows, "sub", "top.qcow2"));
    }

    [OneTimeTearDown]
    public void RemoveImages() => Directory.Delete(_root, recursive: true);

    [TestCaseSource(nameof(Verbs))]
    public void Verb_WindowsBuildUnderWine_SameOutputAndFilesAsLinuxBuild(string arguments, string[] written, string? copyFrom, bool deflated)
    {
        string[] words = arguments.Split(' ');
        if (copyFrom is not null)
        {
            File.Copy(Path.Combine(Linux, copyFrom), Path.Combine(Linux, written[0]), overwrite: true);
            File.Copy(Path.Combine(Windows, copyFrom), Path.Combine(Windows, written[0]), overwrite: true);
        }

        var linux = WindowsCli.RunLinux(Linux, words);
        var windows = WindowsCli.RunWindows(Windows, [.. words.Select(w => w.Replace('/', '\\'))]);

        Assert.Multiple(() =>
        {
            Assert.That(windows.ExitCode, Is.EqualTo(linux.ExitCode), $"exit code\nlinux: {linux}\nwindows: {windows}");
            Assert.That(WindowsCli.Normalise(windows.StandardOutput), Is.EqualTo(WindowsCli.Normalise(linux.StandardOutput)), "standard output");
            Assert.That(WindowsCli.Normalise(windows.StandardError), Is.EqualTo(WindowsCli.Normalise(linux.StandardError)), "standard error");
            foreach (string file in written)
            {
                string fromWindows = Path.Combine(Windows, file), fromLinux = Path.Combine(Linux, file);
                if (deflated)
                {
                    Assert.That(new FileInfo(fromWindows).Length, Is.EqualTo(new FileInfo(fromLinux).Length), file + " length");
                    Assert.That(QemuTools.Compare(fromWindows, fromLinux, "qcow2", "qcow2"), Is.True, file + " content (qemu-img compare)");
                    Assert.That(QemuTools.Check(fromWindows).IsClean, Is.True, file + " qemu-img check");
                }
                else
                {
                    Assert.That(Checksum.Sha256OfFile(fromWindows), Is.EqualTo(Checksum.Sha256OfFile(fromLinux)), file);
                }
            }
        });
    }

    private static object?[] Case(string arguments, string? written = null, string? copyFrom = null, bool deflated = false) =>
        [arguments, written is null ? Array.Empty<string>() : new[] { written }, copyFrom, deflated];
}
