using Qcow2Mount.Core.Qcow2;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Core.Tests.Qcow2;

/// <summary>Fast differential checks of the engine against qemu-img: random writes, zeroes and discards vs a raw twin.</summary>
[TestFixture]
[Category(TestCategories.Qemu)]
[Category(TestCategories.Slow)]
public sealed class Qcow2ImageSmokeTests
{
    private string _dir = "";

    [SetUp]
    public void SetUp() => _dir = TempDir.Create("smoke");

    [TearDown]
    public void TearDown() => TempDir.Delete(_dir);

    [TestCase("extended_l2=on,cluster_size=65536", 1)]
    [TestCase("extended_l2=off,cluster_size=65536", 2)]
    [TestCase("extended_l2=on,cluster_size=131072,refcount_bits=1", 3)]
    [TestCase("extended_l2=off,cluster_size=4096,refcount_bits=64", 4)]
    [TestCase("compat=0.10,cluster_size=65536", 5)]
    [TestCase("extended_l2=on,cluster_size=16384,refcount_bits=8", 6)]
    public void RandomOperations_MatchRawTwin_AndCheckClean(string options, int seed)
    {
        string image = Path.Combine(_dir, "a.qcow2");
        string raw = Path.Combine(_dir, "a.raw");
        const long size = 64L << 20;
        Run("qemu-img", "create", "-q", "-f", "qcow2", "-o", options, image, size.ToString());
        var twin = new byte[size];
        var rng = new Random(seed);
        using (var disk = Qcow2Image.Open(image))
        {
            for (int i = 0; i < 400; i++)
            {
                long offset = rng.NextInt64(0, size - 1);
                int length = (int)Math.Min(size - offset, rng.Next(1, 300 * 1024));
                switch (rng.Next(10))
                {
                    case < 6:
                        var data = new byte[length];
                        rng.NextBytes(data);
                        disk.Write(offset, data);
                        data.CopyTo(twin, offset);
                        break;
                    case 6:
                    case 7:
                        disk.WriteZeroes(offset, length, mayUnmap: rng.Next(2) == 0);
                        Array.Clear(twin, (int)offset, length);
                        break;
                    case 8:
                        disk.Discard(offset, length);
                        Array.Clear(twin, (int)offset, length); // the contract: the whole range reads as zeros
                        break;
                    default:
                        disk.Flush();
                        break;
                }

                if (i % 50 == 0)
                {
                    var check = new byte[length];
                    disk.Read(offset, check);
                    Assert.That(check, Is.EqualTo(twin.AsSpan((int)offset, length).ToArray()), $"read-back after op {i}, seed {seed}");
                }
            }
        }

        File.WriteAllBytes(raw, twin);
        var checkResult = Run("qemu-img", "check", image);
        var compare = Run("qemu-img", "compare", "-f", "qcow2", "-F", "raw", image, raw);
        Assert.Multiple(() =>
        {
            Assert.That(checkResult.Code, Is.EqualTo(0), checkResult.Output);
            Assert.That(compare.Code, Is.EqualTo(0), compare.Output);
        });
    }

    private static (int Code, string Output) Run(string file, params string[] args)
    {
        var (code, stdout, stderr) = QemuTools.Run(file, args);
        return (code, stdout + stderr);
    }
}
