using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Core.Tests.Hostile;

/// <summary>
/// The broken images that must not open, through the real CLI (<c>qcow2mount info -f qcow2 --backing-chain FILE</c>,
/// which opens the image and its whole backing chain as a mount does): exit code 2, exactly one line on stderr starting "qcow2mount: " with the field and value, no
/// stack trace, no hang, no file changed.
/// </summary>
[TestFixture]
[Category(TestCategories.Qemu)]
[Category(TestCategories.Slow)]
public sealed class CliCorpusTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private static string? _cli;
    private string _dir = "";

    [OneTimeSetUp]
    public void FindCli()
    {
        // tests/Qcow2Mount.Core.Tests/bin/<Configuration>/<tfm>/ → src/Qcow2Mount.Cli/bin/<Configuration>/<tfm>/qcow2mount.dll
        var output = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        string tfm = output.Name;
        string configuration = output.Parent!.Name;
        string root = output.Parent.Parent!.Parent!.Parent!.Parent!.FullName;
        string dll = Path.Combine(root, "src", "Qcow2Mount.Cli", "bin", configuration, tfm, "qcow2mount.dll");
        // The project references the CLI (without its assembly), so a build of the tests always builds it.
        Assert.That(dll, Does.Exist, "the CLI is built beside the tests");
        var help = Run(dll, "info", "--help");
        Assert.That(help.Code, Is.Zero, $"qcow2mount info --help: {help.Stderr.Trim()}");

        _cli = dll;
    }

    [SetUp]
    public void SetUp() => _dir = TempDir.Create("cli-hostile");

    [TearDown]
    public void TearDown() => TempDir.Delete(_dir);

    private static IEnumerable<TestCaseData> Cases() =>
        HostileCorpus.Cases().Where(c => c.Expect == Expect.OpenFails).Select(c => new TestCaseData(c).SetArgDisplayNames(c.Name));

    [TestCaseSource(nameof(Cases))]
    public void Info_BrokenImage_OneLineExit2AndNothingWritten(HostileCase c)
    {
        string path = c.Make(_dir);
        var before = FileHashes.Of(_dir);
        var result = Run(_cli!, "info", "-f", "qcow2", "--backing-chain", path);
        var lines = result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Multiple(() =>
        {
            Assert.That(result.Code, Is.EqualTo(2), result.Stderr);
            Assert.That(lines, Has.Length.EqualTo(1), "stderr must be one line: " + result.Stderr);
            Assert.That(result.Stderr, Does.StartWith("qcow2mount: "));
            Assert.That(result.Stderr, Does.Not.Contain("   at "), "no stack trace");
            foreach (string part in c.Message)
            {
                Assert.That(result.Stderr, Does.Contain(part));
            }

            Assert.That(FileHashes.Of(_dir), Is.EqualTo(before), "info changed a file");
        });
    }

    private static (int Code, string Stdout, string Stderr) Run(string dll, params string[] args)
    {
        var result = ProcessRunner.Capture("dotnet", [dll, .. args], null, Timeout);
        return (result.ExitCode, result.StandardOutput, result.StandardError);
    }
}
