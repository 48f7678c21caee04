using Qcow2Mount.Packaging.Tests.Support;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Packaging.Tests.Msi;

/// <summary>
/// installer/msi/build-msi.ps1 on a two-file payload: it builds from the committed sources, and it fails (no MSI left)
/// when wixl only complains on stderr, since wixl exits 0 after dropping a verb or ignoring an attribute.
/// </summary>
[TestFixture]
internal sealed class MsiBuildScriptTests
{
    private static readonly string Script = Path.Combine(Repository.MsiSources, "build-msi.ps1");

    // Each is a mistake wixl 0.101 builds anyway (exit code 0), saying so in one GLib line on stderr.
    private static readonly (string Name, string Component, string Complaint)[] Mistakes =
    [
        ("ProgId icon (WARNING)", """<ProgId Id="T.Image" Icon="qcow2mount.ico" />""", "WARNING"),
        ("a second verb (CRITICAL)", """<File Id="T.Exe" Source="$(var.PayloadDir)/qcow2mount.exe" KeyPath="yes" /><ProgId Id="T.Image"><Extension Id="qcow2"><Verb Id="open" Argument="x" TargetFile="T.Exe" /><Verb Id="mount" Argument="y" TargetFile="T.Exe" /></Extension></ProgId>""", "CRITICAL"),
    ];

    private TempDir _dir = null!;

    [SetUp]
    public void CreatePayload()
    {
        _dir = new TempDir("build-msi");
        Directory.CreateDirectory(_dir.File("payload"));
        File.WriteAllText(_dir.File("payload/qcow2mount.exe"), "not a real program: the MSI only carries it");
        File.Copy(Repository.CommittedIcon, _dir.File("payload/qcow2mount.ico"));
        Directory.CreateDirectory(_dir.File("sources"));
        foreach (string file in Directory.GetFiles(Repository.MsiSources))
        {
            File.Copy(file, Path.Combine(_dir.File("sources"), Path.GetFileName(file)));
        }
    }

    [TearDown]
    public void DeletePayload() => _dir.Dispose();

    [Test]
    public void CommittedSources_BuildAnMsiWithThePathEntry()
    {
        var run = Build("1.2.3");

        Assert.That(run.ExitCode, Is.Zero, run.ToString());
        Assert.Multiple(() =>
        {
            Assert.That(run.StandardError, Is.Empty);
            Assert.That(MsiTable.Read(_dir.File("out.msi"), "Property").AsMap()["ProductVersion"], Is.EqualTo("1.2.3"));
            Assert.That(MsiTable.Read(_dir.File("out.msi"), "Environment").Rows, Has.Count.EqualTo(1));
            Assert.That(MsiTable.Read(_dir.File("out.msi"), "File").Rows.Select(r => r["FileName"]), Is.EquivalentTo(new[] { "qcow2mount.exe", "qcow2mount.ico" }));
        });
    }

    [TestCaseSource(nameof(Mistakes))]
    public void WixlComplainsButExitsZero_FailsAndLeavesNoMsi((string Name, string Component, string Complaint) mistake)
    {
        string product = _dir.File("sources/Product.wxs");
        string extra = $"""<DirectoryRef Id="INSTALLDIR"><Component Id="C.Mistake" Guid="CC07984F-29BC-4A41-8E26-64FCBDB8EAC1" Win64="yes">{mistake.Component}</Component></DirectoryRef>""";
        string text = File.ReadAllText(product)
            .Replace("<Feature ", extra + "\n    <Feature ", StringComparison.Ordinal)
            .Replace("""<ComponentRef Id="C.Path" />""", """<ComponentRef Id="C.Path" /><ComponentRef Id="C.Mistake" />""", StringComparison.Ordinal);
        File.WriteAllText(product, text);

        var run = Build("1.2.3");

        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(1), run.ToString());
            Assert.That(run.StandardError.Trim().Split('\n'), Has.Length.EqualTo(1), "one line");
            Assert.That(run.StandardError, Does.StartWith("build-msi: wixl failed").And.Contain(mistake.Complaint));
            Assert.That(_dir.File("out.msi"), Does.Not.Exist);
        });
    }

    [TestCase("1.2.3-rc.1")]
    [TestCase("256.0.0")]
    public void VersionWindowsInstallerCannotHold_IsRefused(string version)
    {
        var run = Build(version);

        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(1));
            Assert.That(run.StandardError, Does.StartWith($"build-msi: version '{version}' is not an MSI product version"));
            Assert.That(_dir.File("out.msi"), Does.Not.Exist);
        });
    }

    [Test]
    public void PayloadWithoutTheProgram_IsRefused()
    {
        File.Delete(_dir.File("payload/qcow2mount.exe"));

        var run = Build("1.2.3");

        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(1));
            Assert.That(run.StandardError, Does.Contain("has no qcow2mount.exe"));
        });
    }

    private ProcessResult Build(string version) =>
        BuildScript.RunScript(Script, ["-PayloadDir", _dir.File("payload"), "-Version", version, "-OutputFile", _dir.File("out.msi"), "-SourceDir", _dir.File("sources")]);
}
