using System.Globalization;
using System.Text;
using System.Text.Json;
using Qcow2Mount.Cli.Options;
using Qcow2Mount.Core.Tools.Advise;

namespace Qcow2Mount.Cli;

/// <summary><c>qcow2mount advise</c>: should this qcow2 image be converted, and to which cluster size.</summary>
internal sealed class AdviseCommand : ICommand
{
    public const string Help = """
        usage: qcow2mount advise [--output=human|json] IMAGE

        Reads a qcow2 image's L2 tables (how much is allocated, in runs of which size, how many
        clusters are only partly written, compressed or preallocated, whether it has a backing
        file) and the guest file system's block size (ext2/3/4, XFS, NTFS or FAT, at offset 0 or
        in the first MBR/GPT partition), then says whether converting it pays off, to which
        cluster size, what each candidate layout costs (what 'measure' says), and the exact
        'qcow2mount convert' command. Nothing is written.

        The rules, in order:
          1. Half or more of the clusters with data are compressed: keep it. A compressed
             cluster has no subclusters and is rewritten whole on its first write.
          2. 90% or more of the clusters already have a host cluster (written or preallocated):
             keep it. Subclusters only save work on the first write into an unallocated cluster.
          3. Extended L2 entries gain when the image has a backing file (a first write into a
             cluster copies the rest of the cluster from it), when a quarter or more of its data
             clusters are only partly written (exact from the subcluster bitmaps; without
             extended L2 estimated by comparing up to 1024 sampled clusters with what lies below
             them), or when less than half of it is allocated and the guest writes blocks smaller
             than a cluster. None of these: keep it.
          4. The cluster size is 32 x the guest block (one 4 KiB subcluster per 4 KiB block:
             128 KiB), between 16 KiB and 2 MiB. The guest block is the file system's, else the
             typical write seen in partly written clusters, else 4 KiB. An image that already has
             extended L2 with subclusters no larger than the guest block is kept.
        convert writes a standalone copy (a backing chain is flattened); for an overlay the
        advice also shows how to create new overlays with the recommended layout.

        Options:
          --output=human|json   output format (default human)
          -h, --help            show this help

        Exit status: 0 success, 1 usage error, 2 the image cannot be opened or is corrupt,
        130 interrupted.
        """;

    private static readonly Dictionary<string, bool> Spec = new()
    {
        ["--output"] = true, ["-h"] = false, ["--help"] = false,
    };

    public string Name => "advise";

    public string Summary => "say whether to convert an image and to which cluster size";

    public int Run(string[] args)
    {
        var a = ArgumentReader.Parse(Name, args, Spec);
        if (a.PrintedHelp(Help))
        {
            return 0;
        }

        bool json = OutputFormat.IsJson(Name, a.Last("--output"));
        string image = a.SingleExistingImage(Name);
        using var interrupt = new InterruptSignal();
        Advice advice;
        try
        {
            advice = ImageAdvisor.Advise(image, interrupt.Token);
        }
        catch (ArgumentException e)
        {
            throw new UsageException($"{Name}: {e.Message}");
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine($"qcow2mount: {Name}: interrupted");
            return InterruptSignal.ExitCode;
        }

        Console.Write(json ? Json(advice) : Human(advice));
        return 0;
    }

    internal static string Human(Advice a)
    {
        var p = a.Profile;
        var sb = new StringBuilder();
        string layout = p.ExtendedL2 ? $"extended L2 entries ({ByteSize.Human(p.SubclusterSize)} subclusters)" : "standard L2 entries";
        string backing = p.BackingFile is { } b ? $"backing file {b}" : "no backing file";
        sb.Append(CultureInfo.InvariantCulture, $"{a.Filename}: {ByteSize.Human(p.VirtualSize)} disk, {ByteSize.Human(p.ClusterSize)} clusters, {layout}, {backing}\n");
        double hosted = p.TotalClusters == 0 ? 0 : (double)p.HostedClusters / p.TotalClusters;
        sb.Append(CultureInfo.InvariantCulture, $"  allocated: {N(p.HostedClusters)} of {N(p.TotalClusters)} clusters ({ByteSize.Percent(hosted)})");
        if (p.DataClusters > 0)
        {
            sb.Append(CultureInfo.InvariantCulture, $"; {ByteSize.Human(p.DataBytes)} of data in {N(p.Runs)} runs (median {ByteSize.Human(p.MedianRun)}, largest {ByteSize.Human(p.LargestRun)})");
        }

        sb.Append('\n');
        if (p.DataClusters > 0)
        {
            string how = p.ExtendedL2 ? "from the subcluster bitmaps" : $"estimated from {N(p.SampledClusters)} sampled clusters";
            sb.Append(CultureInfo.InvariantCulture, $"  partly written: {N(p.PartialClusters)} of {N(p.DataClusters)} data clusters ({how})\n");
        }

        string reserved = p.MetadataPreallocated ? "preallocated (metadata)" : "host cluster without data";
        sb.Append(CultureInfo.InvariantCulture, $"  compressed: {N(p.CompressedClusters)} clusters; zero: {N(p.ZeroClusters)}; {reserved}: {N(p.ReservedClusters)}\n");
        sb.Append(a.FileSystem is { } fs
            ? $"  guest file system: {fs.Type} with {ByteSize.Human(fs.BlockSize)} blocks ({fs.Location}{(fs.Offset > 0 ? ", at " + ByteSize.Human(fs.Offset) : "")})\n"
            : "  guest file system: none recognised\n");
        sb.Append('\n');
        sb.Append(a.Convert
            ? $"Advice: convert it to extended L2 entries with {ByteSize.Human(a.ClusterSize)} clusters ({ByteSize.Human(a.ClusterSize / 32)} subclusters).\n"
            : "Advice: keep it as it is.\n");
        foreach (string reason in a.Reasons)
        {
            Wrap(sb, reason, "  - ", "    ");
        }

        sb.Append("\n  cluster   L2 entries  metadata    required    fully allocated  L2 cache for the disk\n");
        foreach (var c in a.Candidates)
        {
            sb.Append(CultureInfo.InvariantCulture,
                $"  {ByteSize.Human(c.ClusterSize),-9} {(c.ExtendedL2 ? "extended" : "standard"),-11} {ByteSize.Human(c.Metadata),-11} {ByteSize.Human(c.Required),-11} {ByteSize.Human(c.FullyAllocated),-16} {ByteSize.Human(c.L2CacheForDisk)}\n");
        }

        if (a.Command is { } command)
        {
            sb.Append("\n  ").Append(command).Append('\n');
            if (a.OverlayCommand is { } overlay)
            {
                sb.Append("  convert flattens the backing chain; to keep the backing file, create new overlays with\n  ").Append(overlay).Append('\n');
            }
        }

        return sb.ToString();
    }

    /// <summary>Appends <paramref name="text"/> wrapped at 100 columns, the first line after <paramref name="first"/>.</summary>
    private static void Wrap(StringBuilder sb, string text, string first, string rest)
    {
        const int Width = 100;
        string prefix = first;
        var line = new StringBuilder();
        foreach (string word in text.Split(' '))
        {
            if (line.Length > 0 && prefix.Length + line.Length + 1 + word.Length > Width)
            {
                sb.Append(prefix).Append(line).Append('\n');
                line.Clear();
                prefix = rest;
            }

            line.Append(line.Length > 0 ? " " : "").Append(word);
        }

        sb.Append(prefix).Append(line).Append('\n');
    }

    internal static string Json(Advice a) => OutputFormat.Json(w =>
    {
        var p = a.Profile;
        w.WriteStartObject();
        w.WriteString("filename", a.Filename);
        w.WriteNumber("virtual-size", p.VirtualSize);
        w.WriteNumber("cluster-size", p.ClusterSize);
        w.WriteBoolean("extended-l2", p.ExtendedL2);
        WriteStringOrNull(w, "backing-filename", p.BackingFile);
        w.WriteStartObject("allocation");
        w.WriteNumber("clusters", p.TotalClusters);
        w.WriteNumber("data-clusters", p.DataClusters);
        w.WriteNumber("data-bytes", p.DataBytes);
        w.WriteNumber("partial-clusters", p.PartialClusters);
        w.WriteNumber("sampled-clusters", p.SampledClusters);
        w.WriteNumber("compressed-clusters", p.CompressedClusters);
        w.WriteNumber("zero-clusters", p.ZeroClusters);
        w.WriteNumber("reserved-clusters", p.ReservedClusters);
        w.WriteBoolean("metadata-preallocated", p.MetadataPreallocated);
        w.WriteNumber("runs", p.Runs);
        w.WriteNumber("median-run", p.MedianRun);
        w.WriteNumber("largest-run", p.LargestRun);
        w.WriteNumber("write-unit", p.WriteUnit);
        w.WriteEndObject();
        if (a.FileSystem is { } fs)
        {
            w.WriteStartObject("guest-filesystem");
            w.WriteString("type", fs.Type);
            w.WriteNumber("block-size", fs.BlockSize);
            w.WriteNumber("offset", fs.Offset);
            w.WriteString("location", fs.Location);
            w.WriteEndObject();
        }
        else
        {
            w.WriteNull("guest-filesystem");
        }

        w.WriteStartObject("advice");
        w.WriteBoolean("convert", a.Convert);
        w.WriteBoolean("gains-from-extended-l2", a.GainsFromExtendedL2);
        w.WriteNumber("cluster-size", a.ClusterSize);
        w.WriteBoolean("extended-l2", a.ExtendedL2);
        w.WriteNumber("guest-block-size", a.GuestBlockSize);
        w.WriteString("guest-block-source", a.GuestBlockSource);
        w.WriteStartArray("reasons");
        foreach (string r in a.Reasons)
        {
            w.WriteStringValue(r);
        }

        w.WriteEndArray();
        WriteStringOrNull(w, "command", a.Command);
        WriteStringOrNull(w, "overlay-command", a.OverlayCommand);
        w.WriteEndObject();
        w.WriteStartArray("candidates");
        foreach (var c in a.Candidates)
        {
            w.WriteStartObject();
            w.WriteNumber("cluster-size", c.ClusterSize);
            w.WriteBoolean("extended-l2", c.ExtendedL2);
            w.WriteNumber("required", c.Required);
            w.WriteNumber("fully-allocated", c.FullyAllocated);
            w.WriteNumber("metadata", c.Metadata);
            w.WriteNumber("l2-cache-for-disk", c.L2CacheForDisk);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteEndObject();
    }) + "\n";

    private static void WriteStringOrNull(Utf8JsonWriter w, string name, string? value)
    {
        if (value is null)
        {
            w.WriteNull(name);
        }
        else
        {
            w.WriteString(name, value);
        }
    }

    private static string N(long n) => n.ToString("N0", CultureInfo.InvariantCulture);
}
