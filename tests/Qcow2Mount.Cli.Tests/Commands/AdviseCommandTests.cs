using System.Text.Json.Nodes;

namespace Qcow2Mount.Cli.Tests.Commands;

/// <summary>
/// qcow2mount advise at the command line: the short human report, the JSON for scripts, a recommended command
/// that really converts the image into the recommended layout, and one-line errors for bad input. The advice for
/// each image shape is in Core's ImageAdvisorTests.
/// </summary>
[TestFixture]
[Category(TestCategories.Qemu)]
public sealed class AdviseCommandTests : CommandTestBase
{
    [Test]
    public void Advise_Overlay_HumanReportWithReasonsCostsAndCommand()
    {
        string top = Overlay();
        var (code, stdout, stderr) = CliHarness.Run("advise", top);
        Assert.Multiple(() =>
        {
            Assert.That(code, Is.Zero, stderr);
            Assert.That(stdout, Does.StartWith($"{top}: 32 MiB disk, 64 KiB clusters, standard L2 entries, backing file base.qcow2\n"));
            Assert.That(stdout, Does.Contain("\nAdvice: convert it to extended L2 entries with 128 KiB clusters (4 KiB subclusters).\n"));
            Assert.That(stdout, Does.Contain("  - it has a backing file (base.qcow2)"));
            Assert.That(stdout, Does.Contain("  cluster   L2 entries  metadata    required    fully allocated  L2 cache for the disk\n"));
            Assert.That(stdout, Does.Contain($"  qcow2mount convert -O qcow2 -o cluster_size=128k,extended_l2=on {top} {PathOf("top.converted.qcow2")}\n"));
            Assert.That(stdout, Does.Contain($"qcow2mount create -f qcow2 -b base.qcow2 -F qcow2 -o cluster_size=128k,extended_l2=on {PathOf("top.new-overlay.qcow2")}"));
            Assert.That(stdout.Split('\n').Where(l => !l.Contains("qcow2mount ", StringComparison.Ordinal) && !l.StartsWith(top, StringComparison.Ordinal)), Has.All.Length.LessThanOrEqualTo(100), "short lines");
        });
    }

    [Test]
    public void Advise_RecommendedCommand_ConvertsIntoTheRecommendedLayout()
    {
        string top = Overlay();
        var advice = JsonNode.Parse(CliHarness.Run("advise", "--output=json", top).Stdout)!["advice"]!;
        string command = advice["command"]!.GetValue<string>();
        Assert.That(command, Does.StartWith("qcow2mount convert "));

        var run = CliHarness.Run(command.Split(' ')[1..]);
        string converted = PathOf("top.converted.qcow2");
        var info = JsonNode.Parse(QemuTools.Run("qemu-img", "info", "--output=json", converted).Stdout)!;
        Assert.Multiple(() =>
        {
            Assert.That(run.Code, Is.Zero, run.Stderr);
            Assert.That(info["cluster-size"]!.GetValue<int>(), Is.EqualTo(advice["cluster-size"]!.GetValue<int>()));
            Assert.That(info["format-specific"]!["data"]!["extended-l2"]!.GetValue<bool>(), Is.True);
            Assert.That(QemuTools.Run("qemu-img", "compare", top, converted).Code, Is.Zero, "same content");
            Assert.That(QemuTools.Run("qemu-img", "check", converted).Code, Is.Zero);
        });
    }

    [Test]
    public void Advise_Json_HasTheFactsAndTheAdvice()
    {
        string image = PathOf("c.qcow2");
        string src = QemuImage("src.qcow2", "cluster_size=65536", "4M", "write -P 1 0 1M");
        QemuTools.Ok("qemu-img", "convert", "-c", "-O", "qcow2", src, image);
        var (code, stdout, _) = CliHarness.Run("advise", "--output", "json", image);
        var json = JsonNode.Parse(stdout)!;
        Assert.Multiple(() =>
        {
            Assert.That(code, Is.Zero);
            Assert.That(json["filename"]!.GetValue<string>(), Is.EqualTo(image));
            Assert.That(json["virtual-size"]!.GetValue<long>(), Is.EqualTo(4L << 20));
            Assert.That(json["allocation"]!["compressed-clusters"]!.GetValue<long>(), Is.EqualTo(16));
            Assert.That(json["guest-filesystem"], Is.Null);
            Assert.That(json["advice"]!["convert"]!.GetValue<bool>(), Is.False);
            Assert.That(json["advice"]!["gains-from-extended-l2"]!.GetValue<bool>(), Is.False);
            Assert.That(json["advice"]!["command"], Is.Null);
            Assert.That(json["advice"]!["reasons"]!.AsArray(), Has.Count.EqualTo(1));
            Assert.That(json["candidates"]!.AsArray(), Has.Count.EqualTo(2));
        });
    }

    private static readonly TestCaseData[] BadInput =
    [
        new TestCaseData("garbage", 1, "qcow2mount: advise: 'X/in' is not a qcow2 image").SetName("Advise_RandomBytes_Exit1"),
        new TestCaseData("header", 2, "qcow2mount: X/in: ").SetName("Advise_BrokenQcow2Header_Exit2"),
        new TestCaseData("mapping", 2, "qcow2mount: X/in: ").SetName("Advise_BrokenL2Entry_Exit2"),
        new TestCaseData("missing", 1, "qcow2mount: Could not open 'X/missing'").SetName("Advise_MissingFile_Exit1"),
        new TestCaseData("none", 1, "qcow2mount: advise: expecting an image file name").SetName("Advise_NoFile_Exit1"),
        new TestCaseData("output", 1, "qcow2mount: advise: --output must be used with human or json as argument.").SetName("Advise_BadOutput_Exit1"),
    ];

    [TestCaseSource(nameof(BadInput))]
    public void Advise_BadInput_OneLineError(string kind, int expectedCode, string message)
    {
        string path = PathOf("in");
        switch (kind)
        {
            case "garbage":
                File.WriteAllBytes(path, Enumerable.Range(0, 100_000).Select(i => (byte)(i * 7919 >> 3)).ToArray());
                break;
            case "header":
                File.WriteAllBytes(path, [0x51, 0x46, 0x49, 0xFB, 0, 0, 0, 3, .. new byte[12], 0, 0, 0, 40, .. new byte[100]]);
                break;
            case "mapping":
                QemuTools.Ok("qemu-img", "create", "-q", "-f", "qcow2", "-o", "extended_l2=on,cluster_size=65536", path, "1M");
                QemuTools.Ok("qemu-io", "-f", "qcow2", "-c", "write -P 1 0 64k", path);
                using (var f = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite))
                {
                    // The data cluster's bitmap says every subcluster is both allocated and zero.
                    RandomAccess.Write(f, new byte[] { 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF }, 0x40000 + 8);
                }

                break;
        }

        string[] args = kind switch
        {
            "missing" => ["advise", PathOf("missing")],
            "none" => ["advise"],
            "output" => ["advise", "--output=xml", path],
            _ => ["advise", path],
        };
        var (code, stdout, stderr) = CliHarness.Run(args);
        Assert.Multiple(() =>
        {
            Assert.That(code, Is.EqualTo(expectedCode), stderr);
            Assert.That(stdout, Is.Empty);
            Assert.That(stderr, Does.StartWith(message.Replace("X/", Dir + "/", StringComparison.Ordinal)));
            Assert.That(stderr.TrimEnd('\n').Split('\n'), Has.Length.EqualTo(1), stderr);
        });
    }

    [Test]
    public void Help_StatesTheRules()
    {
        var (code, stdout, _) = CliHarness.Run("advise", "--help");
        Assert.Multiple(() =>
        {
            Assert.That(code, Is.Zero);
            Assert.That(stdout, Does.StartWith("usage: qcow2mount advise"));
            Assert.That(stdout, Does.Contain("1. Half or more of the clusters with data are compressed: keep it."));
            Assert.That(stdout, Does.Contain("4. The cluster size is 32 x the guest block"));
        });
    }

    [Test]
    public void TopLevelHelp_ListsTheNewTools()
    {
        var (_, stdout, _) = CliHarness.Run("--help");
        Assert.That(new[] { "compare", "measure", "advise" }, Is.All.Matches<string>(v => stdout.Contains($"  {v} ", StringComparison.Ordinal)));
    }

    /// <summary>An overlay with 4 KiB writes over a fully written 64 KiB-cluster base.</summary>
    private string Overlay()
    {
        QemuImage("base.qcow2", "cluster_size=65536", "32M", "write -P 17 0 32M");
        string top = PathOf("top.qcow2");
        QemuTools.Ok("qemu-img", "create", "-q", "-f", "qcow2", "-o", "cluster_size=65536", "-b", "base.qcow2", "-F", "qcow2", top);
        QemuTools.Ok("qemu-io", "-f", "qcow2", "-c", "write -P 1 4k 4k", "-c", "write -P 1 1M 4k", "-c", "write -P 1 9M 8k", "-c", "write -P 1 20M 4k", top);
        return top;
    }
}
