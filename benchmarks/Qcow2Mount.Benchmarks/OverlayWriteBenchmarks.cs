using BenchmarkDotNet.Attributes;
using Qcow2Mount.Core;

namespace Qcow2Mount.Benchmarks;

/// <summary>
/// Workload 1 of scripts/bench.sh without FUSE: 4 KiB random writes into a fresh overlay over a fully
/// written backing file (every write is a copy-on-write), per cluster size, extended L2 on and off.
/// </summary>
[MemoryDiagnoser]
public class OverlayWriteBenchmarks
{
    private const int Writes = 2048;
    private BenchImages? _images;
    private IVirtualDisk? _disk;
    private long[] _offsets = [];
    private readonly byte[] _block = new byte[4096];

    [Params(64 << 10, 2 << 20)]
    public int ClusterSize { get; set; }

    [Params(false, true)]
    public bool ExtendedL2 { get; set; }

    [Params("raw", "qcow2")]
    public string Backing { get; set; } = "qcow2";

    [GlobalSetup]
    public void GlobalSetup()
    {
        _images = new BenchImages();
        _offsets = RandomOffsets.Make(Writes, BenchImages.DiskSize, _block.Length);
        new Random(1).NextBytes(_block);
    }

    [IterationSetup]
    public void IterationSetup()
    {
        string overlay = _images!.PathFor("overlay.qcow2");
        File.Delete(overlay);
        string backing = Backing == "raw" ? _images.BaseRaw : _images.BaseQcow2;
        QemuImg.Create(overlay, BenchImages.DiskSize, ClusterSize, ExtendedL2, backing, Backing);
        _disk = DiskImage.Open(overlay, new ImageOpenOptions());
    }

    [Benchmark(OperationsPerInvoke = Writes)]
    public void RandomWrite4K()
    {
        foreach (long offset in _offsets)
        {
            _disk!.Write(offset, _block);
        }

        _disk!.Flush();
    }

    [IterationCleanup]
    public void IterationCleanup() => _disk?.Dispose();

    [GlobalCleanup]
    public void GlobalCleanup() => _images?.Dispose();
}
