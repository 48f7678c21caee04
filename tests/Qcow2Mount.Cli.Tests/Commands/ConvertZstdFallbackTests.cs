using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Cli.Tests.Commands;

/// <summary>
/// zstd without the system library: on a Linux where libzstd.so.1 does not load, <c>convert -c</c> and reads of zstd
/// clusters use the managed port (decided at first use), and qemu-img reads what it wrote.
/// </summary>
[TestFixture]
[Category(TestCategories.Qemu)]
public sealed class ConvertZstdFallbackTests : CommandTestBase
{
    private const string Library = "/usr/lib/x86_64-linux-gnu/libzstd.so.1";

    [Test]
    public void ConvertCompressedZstd_LibzstdUnloadable_ManagedPortWritesWhatQemuReads()
    {
        RequiredTools.Require("unshare", "/usr/lib/x86_64-linux-gnu/libzstd.so.1");
        string raw = PathOf("in.raw"), image = PathOf("out.qcow2");
        File.WriteAllBytes(raw, MixedData());

        // In a private mount namespace an empty file lies over the library (dlopen fails); the host is untouched.
        var result = ProcessRunner.Capture("unshare", "--mount", "sh", "-c",
            "mount --bind /dev/null \"$1\" && test ! -s \"$1\" && " +
            "dotnet \"$2\" convert -c -f raw -O qcow2 -o compression_type=zstd,cluster_size=65536,extended_l2=off \"$3\" \"$4\" && " +
            "exec dotnet \"$2\" compare -f raw -F qcow2 \"$3\" \"$4\"",
            "sh", Library, Cli, raw, image);

        var (code, check) = QemuTools.CheckJson(image);
        Assert.Multiple(() =>
        {
            Assert.That(result.ExitCode, Is.EqualTo(0), result.ToString());
            Assert.That(result.StandardOutput, Does.Contain("Images are identical"), "our compare read the zstd clusters without libzstd");
            Assert.That(QemuTools.Compare(raw, image, "raw", "qcow2"), Is.True, "qemu-img compare");
            Assert.That(code, Is.EqualTo(0), check.ToJsonString());
            Assert.That(QemuTools.Long(check, "compressed-clusters"), Is.GreaterThan(0));
            Assert.That(File.ReadAllBytes(image).AsSpan(0, 108)[104], Is.EqualTo(1), "compression_type zstd");
        });
    }

    /// <summary>1 MiB of words, 1 MiB of random bytes, then zeros.</summary>
    private static byte[] MixedData()
    {
        var rng = new Random(18);
        var data = new byte[3 << 20];
        for (int i = 0; i < (1 << 20); i++)
        {
            data[i] = (byte)(rng.Next(8) == 0 ? ' ' : 'a' + rng.Next(12));
        }

        rng.NextBytes(data.AsSpan(1 << 20, 1 << 20));
        return data;
    }
}
