using System.Text;
using Qcow2Mount.Core.Qcow2.Create;

namespace Qcow2Mount.Cli.Options;

/// <summary>Turns qemu-img's qcow2 creation options (<c>-o cluster_size=…,extended_l2=…</c>) into <see cref="Qcow2CreateOptions"/>; shared by create and convert.</summary>
internal static class Qcow2CreateOptionParser
{
    public static readonly (string Key, string Help)[] Supported =
    [
        ("backing_file", "File name of a base image"),
        ("backing_fmt", "Image format of the base image (qcow2 or raw)"),
        ("cluster_size", "qcow2 cluster size (default 128k with extended_l2, 64k without)"),
        ("compat", "Compatibility level (v2 [0.10], v3 [1.1])"),
        ("compression_type", "Compression method used for image cluster compression (zlib, zstd)"),
        ("data_file", "File name of an external data file"),
        ("data_file_raw", "The external data file must stay valid as a raw image"),
        ("extended_l2", "Extended L2 tables (default on)"),
        ("lazy_refcounts", "Postpone refcount updates"),
        ("preallocation", "Preallocation mode (allowed values: off, metadata)"),
        ("refcount_bits", "Width of a reference count entry in bits (1, 2, 4, 8, 16, 32, 64)"),
        ("size", "Virtual disk size"),
    ];

    /// <summary>Lists the options when <c>-o help</c> (or <c>-o ?</c>) was given; true means the verb is done.</summary>
    public static bool PrintedHelp(KeyValueOptions o)
    {
        if (!o.Contains("help") && !o.Contains("?"))
        {
            return false;
        }

        var sb = new StringBuilder("Supported options:\n");
        foreach (var (key, help) in Supported)
        {
            sb.Append(CultureInvariant($"  {key,-22}- {help}\n"));
        }

        Console.Write(sb.ToString());
        return true;
    }

    /// <summary>Builds the options; <paramref name="size"/> is the positional size (the <c>size</c> key wins if both are absent).</summary>
    public static Qcow2CreateOptions Parse(KeyValueOptions o, long size)
    {
        foreach (string key in o.Keys)
        {
            if (Array.FindIndex(Supported, s => s.Key == key) < 0)
            {
                throw new UsageException(key.StartsWith("encrypt", StringComparison.Ordinal)
                    ? "Encrypted images are not supported"
                    : $"Invalid parameter '{key}'");
            }
        }

        int version = o.Get("compat") switch
        {
            null or "1.1" or "v3" => 3,
            "0.10" or "v2" => 2,
            var v => throw new UsageException($"Parameter 'version' does not accept value '{v}'"),
        };
        byte compression = o.Get("compression_type") switch
        {
            null or "zlib" => 0,
            "zstd" => 1,
            var v => throw new UsageException($"Parameter 'compression-type' does not accept value '{v}'"),
        };
        var prealloc = o.Get("preallocation") switch
        {
            null or "off" => Qcow2Preallocation.Off,
            "metadata" => Qcow2Preallocation.Metadata,
            "falloc" or "full" => throw new UsageException($"Preallocation mode '{o.Get("preallocation")}' is not supported (off or metadata)"),
            var v => throw new UsageException($"Parameter 'preallocation' does not accept value '{v}'"),
        };
        int? clusterSize = ClusterSize(o, string.Empty);
        int refcountBits = 16;
        if (o.Get("refcount_bits") is { } rb)
        {
            refcountBits = int.TryParse(rb, out int bits) ? bits : throw new UsageException($"Parameter 'refcount_bits' expects a number, not '{rb}'");
        }

        return new Qcow2CreateOptions
        {
            Size = size,
            ClusterSize = clusterSize,
            ExtendedL2 = o.GetBool("extended_l2"),
            RefcountBits = refcountBits,
            Version = version,
            LazyRefcounts = o.GetBool("lazy_refcounts") ?? false,
            CompressionType = compression,
            BackingFile = o.Get("backing_file"),
            BackingFormat = o.Get("backing_fmt"),
            DataFile = o.Get("data_file"),
            DataFileRaw = o.GetBool("data_file_raw") ?? false,
            Preallocation = prealloc,
        };
    }

    /// <summary>
    /// The <c>cluster_size</c> option as given (a size, e.g. 64k; too large clamps to int.MaxValue so that the range
    /// check names it), or null when absent; <paramref name="messagePrefix"/> starts the error ("measure: ").
    /// </summary>
    public static int? ClusterSize(KeyValueOptions o, string messagePrefix)
    {
        if (o.Get("cluster_size") is not { } cs)
        {
            return null;
        }

        long parsed = SizeParser.TryParse(cs) ?? throw new UsageException($"{messagePrefix}Parameter 'cluster_size' expects a size, not '{cs}'");
        return (int)Math.Min(parsed, int.MaxValue);
    }

    /// <summary>The options part of qemu-img's "Formatting 'x', fmt=qcow2 …" line, in its order.</summary>
    public static string Describe(Qcow2CreateOptions c, KeyValueOptions given)
    {
        var sb = new StringBuilder("fmt=qcow2");
        sb.Append(CultureInvariant($" cluster_size={c.EffectiveClusterSize} extended_l2={OnOff(c.EffectiveExtendedL2)}"));
        if (given.Get("preallocation") is { } p)
        {
            sb.Append(" preallocation=").Append(p);
        }

        sb.Append(" compression_type=").Append(c.CompressionType == 1 ? "zstd" : "zlib");
        sb.Append(CultureInvariant($" size={c.Size}"));
        if (given.Get("compat") is { } compat)
        {
            sb.Append(" compat=").Append(compat);
        }

        if (c.BackingFile is { } b)
        {
            sb.Append(" backing_file=").Append(b);
        }

        if (c.BackingFormat is { } bf)
        {
            sb.Append(" backing_fmt=").Append(bf);
        }

        if (c.DataFile is { } df)
        {
            sb.Append(" data_file=").Append(df);
        }

        if (given.Contains("data_file_raw"))
        {
            sb.Append(" data_file_raw=").Append(OnOff(c.DataFileRaw));
        }

        sb.Append(" lazy_refcounts=").Append(OnOff(c.LazyRefcounts));
        sb.Append(CultureInvariant($" refcount_bits={c.RefcountBits}"));
        return sb.ToString();
    }

    private static string OnOff(bool b) => b ? "on" : "off";

    private static string CultureInvariant(FormattableString s) => FormattableString.Invariant(s);
}
