using System.Globalization;
using Qcow2Mount.Core.Qcow2;
using Qcow2Mount.Core.Tools.Measure;

namespace Qcow2Mount.Core.Tools.Advise;

/// <summary>
/// Answers "should I convert this qcow2 image, and to which cluster size?" from the image itself. The rules, in
/// order (the README and <c>advise --help</c> state them too):
/// <list type="number">
/// <item>Mostly compressed (half or more of the clusters with data): keep. A compressed cluster has no subclusters
/// and its first write rewrites it whole, so extended L2 gains nothing.</item>
/// <item>Fully allocated (90 % or more of the clusters have a host cluster: written or preallocated): keep.
/// Subclusters only save work on the first write into an unallocated cluster.</item>
/// <item>Otherwise extended L2 gains when the image has a backing file (a first write into a cluster copies the
/// rest of the cluster from it), when it is written in small pieces (a quarter or more of its data clusters only
/// partly written), or when most of it is still unallocated and the guest writes blocks smaller than a cluster
/// (every first write fills a whole cluster).</item>
/// <item>The cluster size is 32 × the guest's block size (one subcluster per guest block), within 16 KiB..2 MiB;
/// the block size is the guest file system's, else the typical write seen in partly written clusters, else 4 KiB.
/// An image that already has extended L2 with subclusters no larger than that block is kept.</item>
/// </list>
/// </summary>
public static class ImageAdvisor
{
    public const double CompressedShare = 0.5;
    public const double FullShare = 0.9;
    public const double PartialShare = 0.25;
    public const double MostlyEmptyShare = 0.5;
    public const int DefaultGuestBlock = 4096;
    public const int MinClusterExtended = 16 << 10;
    public const int MaxCluster = 2 << 20;

    public static Advice Advise(string path, CancellationToken cancellation = default)
    {
        if (DiskImage.ProbeFormat(path) != "qcow2")
        {
            throw new ArgumentException($"'{path}' is not a qcow2 image (advise reads the qcow2 metadata; for a raw image use measure)");
        }

        GuestFileSystem? fs;
        string? backingFormat;
        using (var chain = Qcow2Image.Open(path, new ImageOpenOptions { ReadOnly = true }))
        {
            // The whole chain opened through the engine: the backing-file policy applies before anything else reads.
            fs = GuestFileSystemProbe.Probe(chain);
            backingFormat = chain.Header.BackingFile is { } b ? chain.Header.BackingFormat ?? DiskImage.ProbeFormat(ImagePath.Resolve(path, b)) : null;
        }

        var p = AllocationScanner.Scan(path, cancellation);
        var (guestBlock, blockSource) = GuestBlock(p, fs);
        int target = (int)Math.Clamp(32L * guestBlock, MinClusterExtended, MaxCluster);
        var reasons = new List<string>();
        bool gains = false, convert = false;
        long withData = p.DataClusters + p.CompressedClusters;
        if (withData > 0 && p.CompressedClusters >= CompressedShare * withData)
        {
            reasons.Add($"compressed: {N(p.CompressedClusters)} of its {N(withData)} clusters with data are compressed; a compressed cluster has no subclusters and its first write rewrites it whole, so extended L2 gains nothing");
        }
        else if (p.TotalClusters > 0 && p.HostedClusters >= FullShare * p.TotalClusters)
        {
            string how = p.MetadataPreallocated || p.ReservedClusters > p.DataClusters ? "preallocated" : "written";
            reasons.Add($"fully allocated: {N(p.HostedClusters)} of its {N(p.TotalClusters)} clusters ({ByteSize.Percent((double)p.HostedClusters / p.TotalClusters)}) already have a host cluster ({how}); subclusters only save work on the first write into an unallocated cluster, so extended L2 gains nothing");
        }
        else
        {
            var gainReasons = GainReasons(p, guestBlock);
            gains = gainReasons.Count > 0;
            int subcluster = p.SubclusterSize;
            if (p.ExtendedL2 && subcluster <= guestBlock)
            {
                reasons.Add($"it already has extended L2 entries with {ByteSize.Human(subcluster)} subclusters, no larger than the guest's {ByteSize.Human(guestBlock)} blocks");
            }
            else if (gains)
            {
                convert = true;
                reasons.AddRange(gainReasons);
                reasons.Add($"{ByteSize.Human(target)} clusters = 32 subclusters of {ByteSize.Human(target / 32)}, one per guest block ({blockSource})");
            }
            else
            {
                reasons.Add($"no backing file, {ByteSize.Percent(Share(p.DataClusters, p.TotalClusters))} allocated, data in runs of {ByteSize.Human(p.MedianRun)} (median) with few partly written clusters: extended L2 would change little");
            }
        }

        int cluster = convert ? target : p.ClusterSize;
        bool extended = convert || p.ExtendedL2;
        var candidates = Candidates(path, p, target);
        string? command = null, overlay = null;
        if (convert)
        {
            string options = $"cluster_size={ByteSize.Option(cluster)},extended_l2=on";
            command = $"qcow2mount convert -O qcow2 -o {options} {Quote(path)} {Quote(Sibling(path, ".converted.qcow2"))}";
            if (p.BackingFile is { } backing)
            {
                overlay = $"qcow2mount create -f qcow2 -b {Quote(backing)} -F {backingFormat} -o {options} {Quote(Sibling(path, ".new-overlay.qcow2"))}";
            }
        }

        return new Advice
        {
            Filename = path,
            Profile = p,
            FileSystem = fs,
            GuestBlockSize = guestBlock,
            GuestBlockSource = blockSource,
            GainsFromExtendedL2 = gains,
            Convert = convert,
            ClusterSize = cluster,
            ExtendedL2 = extended,
            Reasons = reasons,
            Candidates = candidates,
            Command = command,
            OverlayCommand = overlay,
        };
    }

    /// <summary>The rule-3 reasons that hold for this image (empty: extended L2 would not help).</summary>
    private static List<string> GainReasons(AllocationProfile p, int guestBlock)
    {
        var reasons = new List<string>();
        string cluster = ByteSize.Human(p.ClusterSize);
        if (p.BackingFile is { } backing)
        {
            reasons.Add($"it has a backing file ({backing}): without subclusters the first write into a {cluster} cluster copies the rest of the cluster from the backing file; with them only what is written is stored");
        }

        if (p.DataClusters > 0 && p.PartialClusters >= PartialShare * p.DataClusters)
        {
            string how = p.ExtendedL2 ? "from its subcluster bitmaps" : $"estimated from {N(p.SampledClusters)} sampled clusters";
            reasons.Add($"it is written in small pieces: {N(p.PartialClusters)} of its {N(p.DataClusters)} data clusters ({ByteSize.Percent(Share(p.PartialClusters, p.DataClusters))}) are only partly written ({how})");
        }

        int unit = p.SubclusterSize;
        double allocated = Share(p.HostedClusters, p.TotalClusters);
        if (allocated < MostlyEmptyShare && guestBlock < unit)
        {
            reasons.Add($"{ByteSize.Percent(1 - allocated)} of the disk is unallocated and the guest writes {ByteSize.Human(guestBlock)} blocks: without subclusters each first write into an empty cluster writes all {cluster} of it");
        }

        return reasons;
    }

    /// <summary>The guest's write size and where it was found.</summary>
    private static (int Block, string Source) GuestBlock(AllocationProfile p, GuestFileSystem? fs)
    {
        if (fs is not null)
        {
            return (fs.BlockSize, $"{fs.Type} with {ByteSize.Human(fs.BlockSize)} blocks, {fs.Location}");
        }

        if (p.WriteUnit > 0 && p.PartialClusters > 0)
        {
            long unit = 512;
            while (unit < p.WriteUnit && unit < 64 << 10)
            {
                unit *= 2;
            }

            return ((int)unit, $"no file system recognised; typical write in its partly written clusters: {ByteSize.Human(p.WriteUnit)}");
        }

        return (DefaultGuestBlock, "no file system recognised: the usual 4 KiB block");
    }

    /// <summary>What measure says for the current layout, 64 KiB standard L2 and the extended-L2 target.</summary>
    private static List<AdviceCandidate> Candidates(string path, AllocationProfile p, int target)
    {
        var layouts = new List<(int Cluster, bool Extended)> { (p.ClusterSize, p.ExtendedL2), (65536, false), (target, true) };
        var list = new List<AdviceCandidate>();
        foreach (var (cluster, extended) in layouts.Distinct())
        {
            var t = new MeasureTarget { Format = "qcow2", ClusterSize = cluster, ExtendedL2 = extended, RefcountBits = 16, Version = 3 };
            var m = ImageMeasure.ForImage(path, "qcow2", t, lockImage: false);
            long clusters = (p.VirtualSize + cluster - 1) / cluster;
            list.Add(new AdviceCandidate(cluster, extended, m.Required, m.FullyAllocated, m.FullyAllocated - (clusters * cluster), clusters * (extended ? 16 : 8)));
        }

        return list;
    }

    private static double Share(long part, long whole) => whole == 0 ? 0 : (double)part / whole;

    private static string N(long n) => n.ToString("N0", CultureInfo.InvariantCulture);

    /// <summary>A file next to <paramref name="path"/> with its extension replaced by <paramref name="suffix"/>.</summary>
    private static string Sibling(string path, string suffix)
    {
        string name = Path.GetFileName(path);
        string stem = name.EndsWith(".qcow2", StringComparison.Ordinal) ? name[..^6] : name;
        return path[..^name.Length] + stem + suffix;
    }

    /// <summary>A word the host's shell reads back unchanged.</summary>
    private static string Quote(string word) => Platform.ShellQuoting.Current.Quote(word);
}
