using Qcow2Mount.Core.Qcow2;

namespace Qcow2Mount.Core.Tools.Advise;

/// <summary>
/// Builds an <see cref="AllocationProfile"/> from one qcow2 file's own mapping (its L2 tables through the engine's
/// map extents, backing file not followed). With extended L2 the subcluster bitmaps say exactly how much of each
/// cluster holds data. Without, a data cluster is always whole, so up to <see cref="MaxSamples"/> data clusters,
/// spread evenly over the disk, are read and compared in 4 KiB blocks with what lies below them (the backing file,
/// or zeros): blocks that equal it were filled in by copy-on-write, not written by the guest.
/// </summary>
internal static class AllocationScanner
{
    public const int MaxSamples = 1024;

    private const int SampleBlock = 4096;

    /// <summary>Scans <paramref name="path"/>; the caller has opened its chain once through the engine (backing-file policy).</summary>
    public static AllocationProfile Scan(string path, CancellationToken cancellation)
    {
        using var layer = Qcow2Image.Open(path, new ImageOpenOptions { ReadOnly = true, FollowBacking = false, Lock = false });
        var h = layer.Header;
        var walk = new Walk(layer.Length, h.ClusterSize, h.HasExtendedL2);
        bool preallocated = MetadataPreallocation.Detect(path);
        string hostPath = h.HasExternalDataFile && h.ExternalDataFile is { } d ? d : path;
        using var host = preallocated ? File.OpenHandle(hostPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete) : null;
        for (long pos = 0; pos < layer.Length;)
        {
            cancellation.ThrowIfCancellationRequested();
            var e = layer.GetBlockStatus(pos, layer.Length - pos);
            long length = Math.Max(e.Length, 1);
            if (host is not null && e.IsPresent && e.IsData && e.HostOffset >= 0)
            {
                // Metadata-preallocated: a data cluster that is a hole in the host file holds no data yet.
                var (isData, n) = HostFile.Extent(host, e.HostOffset, length);
                length = Math.Clamp(n, 1, length);
                e = isData ? e : e with { Flags = (e.Flags & ~BlockStatusFlags.Data) | BlockStatusFlags.Zero };
            }

            walk.Add(pos, length, e);
            pos += length;
        }

        walk.Finish();
        var profile = new AllocationProfile
        {
            VirtualSize = layer.Length,
            ClusterSize = h.ClusterSize,
            ExtendedL2 = h.HasExtendedL2,
            BackingFile = h.BackingFile,
            TotalClusters = h.Geometry.ClustersFor(layer.Length),
            DataClusters = walk.DataClusters,
            DataBytes = walk.DataBytes,
            PartialClusters = walk.PartialClusters,
            CompressedClusters = walk.CompressedClusters,
            ZeroClusters = walk.ZeroClusters,
            ReservedClusters = walk.ReservedClusters,
            MetadataPreallocated = preallocated,
            Runs = walk.Runs.Count,
            MedianRun = walk.Runs.Median(),
            LargestRun = walk.Runs.Largest,
            WriteUnit = walk.SmallRuns.Median(),
        };
        return h.HasExtendedL2 || walk.Samples.Count == 0 ? profile : Sample(path, layer, h.BackingFile, h.BackingFormat, walk, profile, cancellation);
    }

    /// <summary>Compares the sampled data clusters with what lies below them and estimates the partly written share.</summary>
    private static AllocationProfile Sample(string path, Qcow2Image layer, string? backingName, string? backingFormat, Walk walk, AllocationProfile profile, CancellationToken cancellation)
    {
        using var below = backingName is null ? null : DiskImage.Open(ImagePath.Resolve(path, backingName), backingFormat, new ImageOpenOptions { ReadOnly = true, Lock = false });
        int clusterSize = profile.ClusterSize;
        int block = Math.Min(SampleBlock, clusterSize);
        var mine = new byte[clusterSize];
        var theirs = new byte[clusterSize];
        var written = new RunLengths();
        int partial = 0;
        int count = walk.Samples.Count;
        int sampled = Math.Min(count, MaxSamples);
        for (int i = 0; i < sampled; i++)
        {
            long start = walk.Samples[(int)((long)i * count / sampled)];
            cancellation.ThrowIfCancellationRequested();
            int n = (int)Math.Min(clusterSize, profile.VirtualSize - start);
            layer.Read(start, mine.AsSpan(0, n));
            Array.Clear(theirs);
            if (below is not null && start < below.Length)
            {
                below.Read(start, theirs.AsSpan(0, (int)Math.Min(n, below.Length - start)));
            }

            int differing = 0;
            long run = 0;
            for (int at = 0; at < n; at += block)
            {
                int len = Math.Min(block, n - at);
                if (!mine.AsSpan(at, len).SequenceEqual(theirs.AsSpan(at, len)))
                {
                    differing += len;
                    run += len;
                    continue;
                }

                written.Add(run);
                run = 0;
            }

            written.Add(run);
            if (differing < n)
            {
                partial++;
            }
        }

        return profile with
        {
            SampledClusters = sampled,
            PartialClusters = (long)Math.Round((double)partial / sampled * profile.DataClusters),
            WriteUnit = partial > 0 ? written.Median() : 0,
        };
    }

    /// <summary>Per-cluster accounting over the map extents, in guest order.</summary>
    private sealed class Walk(long virtualSize, int clusterSize, bool extendedL2)
    {
        private long _cluster = -1;
        private long _normal;
        private bool _compressed;
        private bool _reserved;
        private bool _zero;
        private long _runStart = -1;
        private long _runEnd = -1;
        private int _stride = 1;
        private long _dataSeen;

        public long DataClusters { get; private set; }

        public long DataBytes { get; private set; }

        public long PartialClusters { get; private set; }

        public long CompressedClusters { get; private set; }

        public long ZeroClusters { get; private set; }

        public long ReservedClusters { get; private set; }

        public RunLengths Runs { get; } = new();

        /// <summary>Runs shorter than a cluster: single writes, where they can be told apart.</summary>
        public RunLengths SmallRuns { get; } = new();

        /// <summary>Start offsets of data clusters to sample, evenly spread (every stride-th data cluster).</summary>
        public List<long> Samples { get; } = new();

        public void Add(long pos, long length, Core.BlockStatus e)
        {
            bool data = e.IsPresent && e.IsData && e.HostOffset >= 0;
            bool compressed = e.IsPresent && e.IsData && e.HostOffset < 0;
            bool reserved = e.HostOffset >= 0 && !e.IsData;
            bool zero = e.IsPresent && e.IsZero;
            if (!data && !compressed && !reserved && !zero)
            {
                // Unallocated: ends the cluster in progress, costs nothing per cluster.
                CloseCluster();
                CloseRun();
                return;
            }

            if (data)
            {
                if (pos != _runEnd)
                {
                    CloseRun();
                    _runStart = pos;
                }

                _runEnd = pos + length;
            }
            else
            {
                CloseRun();
            }

            for (long at = pos; at < pos + length;)
            {
                long cluster = at / clusterSize;
                long end = Math.Min(pos + length, (cluster + 1) * clusterSize);
                if (cluster != _cluster)
                {
                    CloseCluster();
                    _cluster = cluster;
                }

                _normal += data ? end - at : 0;
                _compressed |= compressed;
                _reserved |= reserved;
                _zero |= zero;
                at = end;
            }
        }

        public void Finish()
        {
            CloseCluster();
            CloseRun();
        }

        private void CloseRun()
        {
            if (_runStart < 0)
            {
                return;
            }

            long length = _runEnd - _runStart;
            Runs.Add(length);
            if (length < clusterSize)
            {
                SmallRuns.Add(length);
            }

            _runStart = _runEnd = -1;
        }

        private void CloseCluster()
        {
            if (_cluster < 0)
            {
                return;
            }

            long start = _cluster * clusterSize;
            long length = Math.Min(clusterSize, virtualSize - start);
            if (_compressed)
            {
                CompressedClusters++;
            }
            else if (_normal > 0)
            {
                DataClusters++;
                DataBytes += _normal;
                if (extendedL2 && _normal < length)
                {
                    PartialClusters++;
                }

                if (!extendedL2 && _dataSeen++ % _stride == 0)
                {
                    Samples.Add(start);
                    if (Samples.Count >= 2 * MaxSamples)
                    {
                        // Keep every other sample and take every other cluster from now on.
                        var kept = Samples.Where((_, i) => i % 2 == 0).ToList();
                        Samples.Clear();
                        Samples.AddRange(kept);
                        _stride *= 2;
                    }
                }
            }
            else if (_reserved)
            {
                ReservedClusters++;
            }
            else if (_zero)
            {
                ZeroClusters++;
            }

            _cluster = -1;
            _normal = 0;
            _compressed = _reserved = _zero = false;
        }
    }
}
