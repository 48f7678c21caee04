using BenchmarkDotNet.Attributes;
using Qcow2Mount.Core;

namespace Qcow2Mount.Benchmarks;

/// <summary>Workload 3 of scripts/bench.sh without FUSE: 4 KiB random reads and writes on a fully allocated image.</summary>
[MemoryDiagnoser]
public class AllocatedIoBenchmarks
{
    private const int Operations = 4096;
    private BenchImages? _images;
    private IVirtualDisk? _disk;
    private long[] _offsets = [];
    private readonly byte[] _block = new byte[4096];

    [GlobalSetup]
    public void GlobalSetup()
    {
        _images = new BenchImages();
        _offsets = RandomOffsets.Make(Operations, BenchImages.DiskSize, _block.Length);
        _disk = DiskImage.Open(_images.BaseQcow2, new ImageOpenOptions());
    }

    [Benchmark(OperationsPerInvoke = Operations)]
    public int RandomRead4K()
    {
        int total = 0;
        foreach (long offset in _offsets)
        {
            total += _disk!.Read(offset, _block);
        }

        return total;
    }

    [Benchmark(OperationsPerInvoke = Operations)]
    public void RandomWrite4K()
    {
        foreach (long offset in _offsets)
        {
            _disk!.Write(offset, _block);
        }
    }

    [GlobalCleanup]
    public void GlobalCleanup()
    {
        _disk?.Dispose();
        _images?.Dispose();
    }
}
