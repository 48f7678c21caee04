using Qcow2Mount.Core.Errors;
using Qcow2Mount.Core.Qcow2;
using Qcow2Mount.Core.Storage;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Core.Tests.Hostile;

/// <summary>
/// Every hand-made broken image (<see cref="HostileCorpus"/>), opened read-only from a 0444 file and read-write
/// from a writable copy: the right exception with a one-line message naming the field and value, no hang (each
/// step runs under <see cref="Watchdog"/>), bounded memory, and no byte of any file changed unless a read-write
/// change met corruption (then exactly the corrupt bit is set and the image turns read-only).
/// </summary>
[TestFixture]
[Category(TestCategories.Qemu)]
public sealed class HostileCorpusTests
{
    /// <summary>Managed bytes one step may allocate: the largest sound structure here is a 2 MiB cluster.</summary>
    private const long MaxAllocatedBytes = 64L << 20;

    private string _dir = "";

    [SetUp]
    public void SetUp() => _dir = TempDir.Create("hostile");

    [TearDown]
    public void TearDown() => TempDir.Delete(_dir);

    private static IEnumerable<TestCaseData> Cases() =>
        HostileCorpus.Cases().Select(c => new TestCaseData(c).SetArgDisplayNames(c.Name));

    [Test]
    public void Corpus_CoversAtLeast25BrokenImages() =>
        Assert.That(HostileCorpus.Cases().Count(), Is.GreaterThanOrEqualTo(25));

    [TestCaseSource(nameof(Cases))]
    public void OpenReadOnly_BrokenImage_FailsOnlyWhereBrokenAndWritesNothing(HostileCase c)
    {
        string path = c.Make(_dir);
        MakeReadOnly(_dir);
        var before = FileHashes.Of(_dir);
        var options = new ImageOpenOptions { ReadOnly = true };

        long allocated = Watchdog.Run(() =>
        {
            switch (c.Expect)
            {
                case Expect.OpenFails:
                    AssertFails(c, () => Qcow2Image.Open(path, options).Dispose());
                    break;
                case Expect.ReadWriteOpenFails:
                case Expect.ChangeFails:
                    using (var image = Qcow2Image.Open(path, options))
                    {
                        ReadAll(image, c.ExpectedGuest?.Invoke());
                    }

                    break;
                case Expect.RangeFails:
                    using (var image = Qcow2Image.Open(path, options))
                    {
                        AssertFails(c, () => image.Read(c.GuestCluster * (long)c.ClusterSize, new byte[512]));
                        AssertHealthy(c, image, path);
                        Assert.That(image.IsReadOnly, Is.True);
                    }

                    break;
            }
        });

        Assert.Multiple(() =>
        {
            Assert.That(allocated, Is.LessThan(MaxAllocatedBytes), "managed bytes allocated");
            Assert.That(FileHashes.Of(_dir), Is.EqualTo(before), "a read-only open changed a file");
        });
    }

    [TestCaseSource(nameof(Cases))]
    public void OpenReadWrite_BrokenImage_RefusesOrMarksCorruptOnChange(HostileCase c)
    {
        string path = c.Make(_dir);
        var before = FileHashes.Of(_dir);
        var options = new ImageOpenOptions();

        long allocated = Watchdog.Run(() =>
        {
            switch (c.Expect)
            {
                case Expect.OpenFails:
                case Expect.ReadWriteOpenFails:
                    AssertFails(c, () => Qcow2Image.Open(path, options).Dispose());
                    Assert.That(FileHashes.Of(_dir), Is.EqualTo(before), "a refused open changed a file");
                    break;
                case Expect.RangeFails:
                case Expect.ChangeFails:
                    using (var image = Qcow2Image.Open(path, options))
                    {
                        Assert.That(FileHashes.Of(_dir), Is.EqualTo(before), "opening a sound header wrote to a file");
                        AssertFails(c, () => Change(c, image));
                        Assert.That(image.IsReadOnly, Is.True, "corruption met by a change must turn the image read-only");
                        Assert.Throws<ReadOnlyImageException>(() => image.Write(0, new byte[512]));
                    }

                    var after = File.ReadAllBytes(path);
                    if (after[7] >= 3)
                    {
                        // Version 2 has no feature bits: there (as in QEMU) the image is read-only for this session only.
                        Assert.That(after[72 + 7] & 0x02, Is.EqualTo(0x02), "the corrupt bit must be set on disk");
                        var again = Assert.Catch(() => Qcow2Image.Open(path, options).Dispose());
                        Assert.That(again, Is.InstanceOf<ImageFormatException>().With.Message.Contains("marked corrupt"));
                    }

                    using (var readOnly = Qcow2Image.Open(path, options with { ReadOnly = true }))
                    {
                        AssertHealthy(c, readOnly, path);
                    }

                    break;
            }
        });

        Assert.That(allocated, Is.LessThan(MaxAllocatedBytes), "managed bytes allocated");
    }

    [Test]
    public void Open_UnknownAutoclearBits_ReadOnlyKeepsThemReadWriteClearsThem()
    {
        string path = Path.Combine(_dir, "image.qcow2");
        var image = new ImageBuilder().Build();
        image[ImageBuilder.Field.AutoclearFeatures + 7] = 0xF1; // bitmaps (without the extension) + unknown bits
        File.WriteAllBytes(path, image);
        var before = FileHashes.Of(_dir);

        Qcow2Image.Open(path, new ImageOpenOptions { ReadOnly = true }).Dispose();
        Assert.That(FileHashes.Of(_dir), Is.EqualTo(before), "a read-only open wrote");

        Qcow2Image.Open(path, new ImageOpenOptions()).Dispose();
        Assert.That(File.ReadAllBytes(path)[ImageBuilder.Field.AutoclearFeatures + 7], Is.EqualTo(0), "a writer clears the autoclear bits it does not maintain");
    }

    [Test]
    public void BackingDevice_AllowedByOption_Opens()
    {
        string path = Path.Combine(_dir, "image.qcow2");
        File.WriteAllBytes(path, new ImageBuilder { BackingFile = "/dev/zero", BackingFormat = "raw" }.Build());
        using var image = Qcow2Image.Open(path, new ImageOpenOptions { ReadOnly = true, AllowBackingDevice = true });
        var buffer = new byte[512];
        image.Read(0x30000, buffer);
        Assert.That(buffer, Is.All.EqualTo(0));
    }

    [Test]
    public void BackingOnProcfs_AllowedByOption_Opens()
    {
        string path = Path.Combine(_dir, "image.qcow2");
        File.WriteAllBytes(path, new ImageBuilder { BackingFile = "/proc/self/environ", BackingFormat = "raw" }.Build());
        Assert.DoesNotThrow(() => Qcow2Image.Open(path, new ImageOpenOptions { ReadOnly = true, AllowBackingDevice = true }).Dispose());
    }

    private static void AssertFails(HostileCase c, Action action)
    {
        var e = Assert.Catch(() => action(), "expected {0}", c.Error.Name);
        Assert.That(e, Is.InstanceOf(c.Error), e?.ToString());
        Assert.That(e!.Message, Does.Not.Contain('\n').And.Not.Contain('\r'), "the message must be one line");
        foreach (string part in c.Message)
        {
            Assert.That(e.Message, Does.Contain(part));
        }
    }

    /// <summary>
    /// The range the broken entry does not map reads, and reads the bytes QEMU reads there (qemu-io on the same file:
    /// QEMU opens every one of these images and fails only the broken cluster, as we do). A case without one says why.
    /// </summary>
    private static void AssertHealthy(HostileCase c, Qcow2Image image, string path)
    {
        if (c.HealthyOffset < 0)
        {
            Assert.That(c.Expect != Expect.RangeFails || c.NoHealthyRangeBecause is { Length: > 0 }, Is.True, "a case whose broken entry spares a guest range names it (HealthyOffset), or says why none is spared");
            return;
        }

        // One cluster, at most 64 KiB: qemu-io's dump of a 2 MiB cluster alone would pass the memory limit.
        var buffer = new byte[Math.Min(c.ClusterSize, 1 << 16)];
        Assert.DoesNotThrow(() => image.Read(c.HealthyOffset, buffer), "a range the broken entry does not map must still read");
        byte[] qemu = QemuTools.ReadGuest(path, c.HealthyOffset, buffer.Length);
        Assert.Multiple(() =>
        {
            Assert.That(qemu.Any(b => b != 0), Is.True, $"the healthy range at 0x{c.HealthyOffset:x} holds data (QEMU reads zeros there, so a wrong read of zeros would pass)");
            Assert.That(buffer.AsSpan().CommonPrefixLength(qemu), Is.EqualTo(qemu.Length), $"guest bytes at 0x{c.HealthyOffset:x}: length of ours that agrees with qemu-io's read of the same file");
        });
    }

    private static void Change(HostileCase c, Qcow2Image image)
    {
        long offset = c.GuestCluster * (long)c.ClusterSize;
        switch (c.Change)
        {
            case Hostile.Change.Write:
                var data = new byte[512];
                Array.Fill(data, (byte)0xAB);
                image.Write(offset, data);
                break;
            case Hostile.Change.Discard:
                image.Discard(offset, c.ClusterSize);
                break;
            case Hostile.Change.ZeroUnmapAndFlush:
                image.WriteZeroes(offset, c.ClusterSize, mayUnmap: true);
                image.Flush();
                break;
        }
    }

    private static void ReadAll(Qcow2Image image, byte[]? expected)
    {
        var buffer = new byte[1 << 20];
        for (long offset = 0; offset < image.Length; offset += buffer.Length)
        {
            int n = image.Read(offset, buffer);
            if (expected is not null)
            {
                Assert.That(buffer.AsSpan(0, n).SequenceEqual(expected.AsSpan((int)offset, n)), Is.True, $"guest bytes at 0x{offset:x}");
            }
        }
    }


    /// <summary>chmod 0444 (root ignores it, so the hashes are the real proof).</summary>
    private static void MakeReadOnly(string dir)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        foreach (string f in Directory.EnumerateFiles(dir).Where(f => FileKind.Of(f) == FileKind.Kind.Regular))
        {
            File.SetUnixFileMode(f, UnixFileMode.UserRead | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        }
    }
}
