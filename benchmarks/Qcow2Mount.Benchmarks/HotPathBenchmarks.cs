using BenchmarkDotNet.Attributes;
using Qcow2Mount.Core;
using Qcow2Mount.Core.Qcow2;
using Qcow2Mount.Core.Qcow2.Format;

namespace Qcow2Mount.Benchmarks;

/// <summary>
/// The engine's hot paths one by one (issue 6), each per operation with the memory diagnoser: a mapping lookup
/// (guest offset → host extent, L2 slice cached), the subcluster decoder, an L2 cache hit, and the refcount lookup
/// that the free-cluster search runs once per cluster it passes. None may allocate.
/// </summary>
[MemoryDiagnoser]
public class HotPathBenchmarks
{
    private const int Operations = 4096;
    private BenchImages? _images;
    private Qcow2Image? _image;
    private long[] _offsets = [];
    private long[] _sliceOffsets = [];
    private L2Entry[] _entries = [];
    private long _clusters;

    [GlobalSetup]
    public void GlobalSetup()
    {
        _images = new BenchImages();
        _offsets = RandomOffsets.Make(Operations, BenchImages.DiskSize, 4096);
        _image = Qcow2Image.Open(_images.BaseQcow2, new ImageOpenOptions());
        var block = new byte[4096];
        foreach (long offset in _offsets)
        {
            _image.Read(offset, block); // warm the L2 cache: every lookup below is a hit
        }

        // Entries with random extended-L2 bitmaps for the decoder.
        var geometry = _image.Geometry;
        _entries = new L2Entry[Operations];
        var random = new Random(11);
        for (int i = 0; i < _entries.Length; i++)
        {
            uint alloc = (uint)random.Next();
            uint zero = (uint)random.Next() & ~alloc;
            _entries[i] = L2Entry.Standard(geometry.StartOf(new HostCluster(i + 1L)), copied: true, L2Entry.MakeBitmap(alloc, zero));
        }

        _clusters = geometry.ClusterEnd(new FileInfo(_images.BaseQcow2).Length).Index;
        _sliceOffsets = [.. CachedSliceOffsets(_image)];
    }

    /// <summary>Guest offset → host extent through the one status query (the mapping walk every read and in-place write does first).</summary>
    [Benchmark(OperationsPerInvoke = Operations)]
    public long MappingLookup()
    {
        long sum = 0;
        foreach (long offset in _offsets)
        {
            sum += _image!.GetBlockStatus(offset, 4096).HostOffset;
        }

        return sum;
    }

    /// <summary>(L2 entry, subcluster) → state, for all 32 subclusters of an extended entry.</summary>
    [Benchmark(OperationsPerInvoke = Operations * 32)]
    public int SubclusterDecode()
    {
        int sum = 0;
        foreach (var entry in _entries)
        {
            for (int sc = 0; sc < 32; sc++)
            {
                sum += (int)SubclusterDecoder.Decode(entry, extendedL2: true, sc);
            }
        }

        return sum;
    }

    /// <summary>A lookup of a cached L2 slice.</summary>
    [Benchmark(OperationsPerInvoke = Operations)]
    public int L2CacheHit()
    {
        int sum = 0;
        var cache = _image!.L2Cache;
        for (int i = 0; i < Operations; i++)
        {
            sum += cache.Get(_sliceOffsets[i % _sliceOffsets.Length]).Length;
        }

        return sum;
    }

    /// <summary>The free-cluster search's step: one refcount read per cluster, over every cluster of the file.</summary>
    [Benchmark]
    public ulong RefcountSearchFullImage()
    {
        ulong sum = 0;
        var refcounts = _image!.Refcounts;
        for (long c = 0; c < _clusters; c++)
        {
            sum += refcounts.GetRefcount(new HostCluster(c));
        }

        return sum;
    }

    [GlobalCleanup]
    public void GlobalCleanup()
    {
        _image?.Dispose();
        _images?.Dispose();
    }

    private static List<long> CachedSliceOffsets(Qcow2Image image)
    {
        var cache = image.L2Cache;
        var offsets = new List<long>();
        for (long offset = 0; offset < image.Qcow2File.Length && offsets.Count < Operations; offset += cache.EntrySize)
        {
            if (cache.Contains(offset))
            {
                offsets.Add(offset);
            }
        }

        return offsets;
    }
}
