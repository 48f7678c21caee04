using Qcow2Mount.Core.Tools;
using Qcow2Mount.Core.Tools.Advise;
using Qcow2Mount.Core.Tools.Measure;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Core.Tests.Hostile;

/// <summary>
/// The broken images through compare, measure and advise: an image that must not open fails every tool with a
/// one-line message (compare at its open stage; advise refuses a file without the qcow2 magic); a broken mapping
/// fails them with a typed error or is never touched; nothing hangs, nothing else escapes (the CLI turns exactly
/// these types into one line), and no file changes.
/// </summary>
[TestFixture]
[Category(TestCategories.Qemu)]
public sealed class ToolVerbsCorpusTests
{
    private string _dir = "";

    [SetUp]
    public void SetUp() => _dir = TempDir.Create("tools-hostile");

    [TearDown]
    public void TearDown() => TempDir.Delete(_dir);

    private static IEnumerable<TestCaseData> Cases() =>
        HostileCorpus.Cases()
            .Where(c => c.Expect is Expect.OpenFails or Expect.RangeFails)
            .Select(c => new TestCaseData(c).SetArgDisplayNames(c.Name));

    [TestCaseSource(nameof(Cases))]
    public void ToolVerbs_BrokenImage_TypedOneLineErrorAndNothingWritten(HostileCase c)
    {
        string path = c.Make(_dir);
        var before = FileHashes.Of(_dir);
        var failures = new List<(string Tool, Exception Error)>();
        Try("compare", () => ImageComparer.Compare(path, path, new CompareOptions { FirstFormat = "qcow2", SecondFormat = "qcow2" }));
        Try("measure", () => ImageMeasure.ForImage(path, "qcow2", new MeasureTarget { Format = "qcow2" }));
        Try("advise", () => ImageAdvisor.Advise(path));

        Assert.Multiple(() =>
        {
            foreach (var (tool, error) in failures)
            {
                Assert.That(error, Is.InstanceOf<Errors.Qcow2Exception>().Or.InstanceOf<CompareFailedException>().Or.InstanceOf<MeasureFailedException>().Or.InstanceOf<ArgumentException>(), $"{tool}: {error}");
                Assert.That(error.Message, Does.Not.Contain('\n'), $"{tool}: one line");
            }

            if (c.Expect == Expect.OpenFails)
            {
                Assert.That(failures.Select(f => f.Tool), Is.EquivalentTo(new[] { "compare", "measure", "advise" }), "an image that must not open fails every tool");
                var compare = failures.Single(f => f.Tool == "compare").Error;
                Assert.That(compare is CompareFailedException { Stage: CompareStage.Open }, Is.True, compare.ToString());
            }

            Assert.That(FileHashes.Of(_dir), Is.EqualTo(before), "a tool changed a file");
        });

        void Try(string tool, Action run)
        {
            try
            {
                Watchdog.Run(run);
            }
            catch (Exception e)
            {
                failures.Add((tool, e));
            }
        }
    }
}
