using Qcow2Mount.Core.Qcow2;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Core.Tests.Conformance;

/// <summary>
/// The differential write check (QEMU iotest 271's method): run a seeded workload on the image through the engine and
/// on a raw twin, then the content must match — read back before close, after a read-only reopen, and by
/// <c>qemu-img compare</c> — and <c>qemu-img check</c> must find no error and no leak.
/// </summary>
internal static class WorkloadVerification
{
    /// <summary>A raw twin of the image's current guest content (backing data included), made by QEMU.</summary>
    public static string MakeTwin(string image, string twinPath)
    {
        QemuTools.ConvertToRaw(image, twinPath);
        return twinPath;
    }

    public static void RunAndVerify(string image, string twin, RandomWorkload workload, ImageOpenOptions? options = null)
    {
        string context = workload.ToString();
        using (Qcow2Image disk = Qcow2Image.Open(image, options ?? new ImageOpenOptions()))
        {
            Assert.That(disk.IsReadOnly, Is.False);
            workload.Apply(disk, twin);
            Assert.That(DiskContent.DescribeDifference(disk, twin), Is.Empty, $"{context}: read back before close");
        }

        QemuCheckResult check = QemuTools.Check(image);
        ProcessResult compare = QemuTools.CompareResult(image, twin);
        string reopened;
        using (Qcow2Image disk = Qcow2Image.Open(image, new ImageOpenOptions { ReadOnly = true }))
        {
            reopened = DiskContent.DescribeDifference(disk, twin);
        }

        Assert.Multiple(() =>
        {
            Assert.That(check.IsClean, Is.True, $"{context}: {check}");
            Assert.That(compare.ExitCode, Is.Zero, $"{context}: qemu-img compare with the raw twin: {compare.StandardOutput}{compare.StandardError}");
            Assert.That(reopened, Is.Empty, $"{context}: read after a read-only reopen");
        });
    }
}
