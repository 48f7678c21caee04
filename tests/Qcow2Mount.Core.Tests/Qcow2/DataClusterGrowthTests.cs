using Qcow2Mount.Core.Qcow2;
using Qcow2Mount.Core.Storage;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Core.Tests.Qcow2;

/// <summary>
/// A write into part of a new extended-L2 cluster does not ftruncate the file per cluster: the write itself puts the
/// cluster's start inside the file, and the flush grows the file over the rest of every such cluster (one ftruncate)
/// before refcount blocks or L2 tables on disk name them. (One ftruncate per new cluster was 29 % of the time of 4 KiB
/// writes into new clusters.) Every state the file passes through checks without errors.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
public sealed class DataClusterGrowthTests
{
    [Test]
    public void PartialWritesIntoNewClusters_NoFtruncatePerCluster_FlushCoversEveryCluster()
    {
        using var dir = new TempDir("growth");
        string image = dir.File("disk.qcow2");
        const int cluster = 128 << 10, clusters = 32;
        QemuTools.Create(image, 16L << 20, new Dictionary<string, string> { ["cluster_size"] = $"{cluster}", ["extended_l2"] = "on" });
        var data = new byte[4096];
        Array.Fill(data, (byte)0x5a);

        var file = new CountingBlockDevice(FileBlockDevice.Open(image, readOnly: false));
        int lengthChangesWhileWriting;
        using (var disk = Qcow2Image.Open(file, new ImageOpenOptions()))
        {
            disk.Write(0, data); // the L2 table first (its allocation grows the file at once, by design)
            int before = file.LengthChanges;
            for (int c = 1; c < clusters; c++)
            {
                disk.Write(((long)c * cluster) + 8192, data); // subcluster 2 of a new cluster
            }

            lengthChangesWhileWriting = file.LengthChanges - before;
            File.Copy(image, dir.File("crash.qcow2")); // a crash now: nothing on disk names the new clusters yet
            disk.Flush();
            File.Copy(image, dir.File("flushed.qcow2")); // a crash right after the flush
        }

        var crash = QemuTools.Check(dir.File("crash.qcow2"));
        var flushed = QemuTools.Check(dir.File("flushed.qcow2"));
        var closed = QemuTools.Check(image);
        var read = ProcessRunner.Capture("qemu-io", ["-f", "qcow2", "-c", $"read -P 0x5a {(31L * cluster) + 8192} 4096", "-c", $"read -P 0 {31L * cluster} 8192", image]);
        Assert.Multiple(() =>
        {
            Assert.That(lengthChangesWhileWriting, Is.Zero, "no ftruncate per new cluster");
            Assert.That(new FileInfo(dir.File("flushed.qcow2")).Length % cluster, Is.Zero, "after the flush the file ends at a cluster end: every allocated cluster lies inside it");
            Assert.That(crash.Corruptions + crash.CheckErrors, Is.Zero, crash.ToString());
            Assert.That(flushed.IsClean, Is.True, flushed.ToString());
            Assert.That(closed.IsClean, Is.True, closed.ToString());
            Assert.That(read.StandardOutput, Does.Not.Contain("Pattern verification failed").And.Contain($"read 4096/4096 bytes at offset {(31L * cluster) + 8192}"), read.StandardOutput);
        });
    }
}
