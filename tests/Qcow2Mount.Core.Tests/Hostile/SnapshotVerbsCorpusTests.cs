using Qcow2Mount.Core.Tools;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Core.Tests.Hostile;

/// <summary>
/// The broken images through qcow2mount snapshot -l / -c / -a / -d, each verb on its own copy: an image that must not
/// open fails every verb with a typed one-line error (the CLI prints exactly these types as one line) and no file
/// changes; on an image whose mapping is broken somewhere a verb either fails so (a table or data cluster in the wrong
/// place: refused before any refcount changes) or works without making qemu-img check find more corruption.
/// Broken backing chains are left out: the snapshot verbs never open the backing file (qemu-img does, and fails).
/// </summary>
[TestFixture]
[Category(TestCategories.Qemu)]
public sealed class SnapshotVerbsCorpusTests
{
    private string _dir = "";

    [SetUp]
    public void SetUp() => _dir = TempDir.Create("snap-hostile");

    [TearDown]
    public void TearDown() => TempDir.Delete(_dir);

    private static IEnumerable<TestCaseData> Cases() =>
        HostileCorpus.Cases()
            .Where(c => c.Expect is Expect.OpenFails or Expect.RangeFails && c.Error != typeof(Errors.BackingChainException))
            .Select(c => new TestCaseData(c).SetArgDisplayNames(c.Name));

    [TestCaseSource(nameof(Cases))]
    public void SnapshotVerbs_BrokenImage_TypedOneLineErrorAndNothingWrittenOrNoWorse(HostileCase c)
    {
        var verbs = new (string Verb, Action<string> Run)[]
        {
            ("-l", p => ImageSnapshots.List(p, forceShare: false)),
            ("-c", p => ImageSnapshots.Create(p, "new")),
            ("-a", p => ImageSnapshots.Apply(p, "1")),
            ("-d", p => ImageSnapshots.Delete(p, "snap")),
        };
        Assert.Multiple(() =>
        {
            foreach (var (verb, run) in verbs)
            {
                // Each verb on its own copy of the broken image.
                string dir = Directory.CreateDirectory(Path.Combine(_dir, verb.TrimStart('-'))).FullName;
                string path = c.Make(dir);
                var before = FileHashes.Of(dir);
                long corruptions = c.Expect == Expect.RangeFails ? QemuTools.Check(path).Corruptions : 0;
                Exception? error = null;
                try
                {
                    Watchdog.Run(() => run(path));
                }
                catch (Exception e)
                {
                    error = e;
                }

                if (error is not null)
                {
                    Assert.That(error, Is.InstanceOf<Errors.Qcow2Exception>().Or.InstanceOf<ArgumentException>(), $"snapshot {verb}: {error}");
                    Assert.That(error.Message, Does.Not.Contain('\n'), $"snapshot {verb}: one line");
                    Assert.That(FileHashes.Of(dir), Is.EqualTo(before), $"snapshot {verb} failed but changed a file");
                }
                else if (c.Expect == Expect.OpenFails)
                {
                    Assert.Fail($"snapshot {verb} worked on an image that must not open");
                }
                else if (verb != "-l")
                {
                    // A broken cluster that is not a location (a bitmap, compressed bytes) is snapshotted as it is, as
                    // QEMU does: still unreadable, and no refcount made wrong.
                    var check = QemuTools.Check(path);
                    Assert.That((check.Corruptions, check.CheckErrors), Is.EqualTo((corruptions, 0L)), $"snapshot {verb} made the image worse: {check}");
                }
            }
        });
    }
}
