using System.Globalization;
using Qcow2Mount.Cli.Options;
using Qcow2Mount.Core.Qcow2.Create;
using Qcow2Mount.Core.Tools.Measure;

namespace Qcow2Mount.Cli;

/// <summary><c>qcow2mount measure</c>: the size a new image needs, like qemu-img measure.</summary>
internal sealed class MeasureCommand : ICommand
{
    public const string Help = """
        usage: qcow2mount measure [--output=human|json] [-O qcow2|raw] [-o OPTIONS] [--size N | [-f FMT] [-U] IMAGE]

        Calculates the file size a new image needs: for an empty image of N bytes (--size), or
        for a copy of IMAGE (its backing chain flattened, as convert writes it). Prints, like
        qemu-img measure:
          required size          the file size for the data (zero ranges take no space) plus
                                 all metadata of a fully allocated image
          fully allocated size   the file size when every cluster is allocated
          bitmaps size           (qcow2 v3 target and source) space for IMAGE's persistent bitmaps

        Options:
          -O FMT              target format: raw (default, as qemu-img) or qcow2
          -o OPTIONS          target options, as for 'create': cluster_size, extended_l2,
                              refcount_bits, compat, preallocation (off, metadata, falloc,
                              full), backing_file (then every cluster counts as required),
                              lazy_refcounts, compression_type, backing_fmt, data_file, ...
                              Defaults are those of 'qcow2mount create': extended_l2=on with
                              128 KiB clusters (64 KiB without extended L2). For qemu-img's
                              defaults give -o cluster_size=64k,extended_l2=off.
          --size N            measure an empty image of N bytes (k, M, G, T, P, E suffixes)
          -f FMT              format of IMAGE: qcow2 or raw (default: probe the magic)
          --output=human|json output format (default human)
          -U, --force-share   open IMAGE without taking locks
          -h, --help          show this help

        Exit status: 0 success, 1 error.
        """;

    private static readonly Dictionary<string, bool> Spec = new()
    {
        ["--output"] = true, ["-O"] = true, ["-o"] = true, ["--size"] = true, ["-f"] = true, ["-l"] = true,
        ["-U"] = false, ["--force-share"] = false, ["--image-opts"] = false, ["--object"] = true, ["-h"] = false, ["--help"] = false,
    };

    private static readonly string[] Qcow2Keys =
    [
        "backing_file", "backing_fmt", "cluster_size", "compat", "compression_type", "data_file", "data_file_raw",
        "extended_l2", "lazy_refcounts", "preallocation", "refcount_bits", "size",
    ];

    public string Name => "measure";

    public string Summary => "calculate the file size a new image needs (like qemu-img measure)";

    public int Run(string[] args)
    {
        var a = ArgumentReader.Parse(Name, args, Spec);
        if (a.PrintedHelp(Help))
        {
            return 0;
        }

        bool json = OutputFormat.IsJson(Name, a.Last("--output"));
        if (a.HasAny("--image-opts", "--object"))
        {
            throw new UsageException($"{Name}: {(a.Has("--image-opts") ? "--image-opts" : "--object")} is not supported (give an image file name)");
        }

        string? size = a.Last("--size");
        string? image = a.Positionals.Count > 0 ? a.Positionals[0] : null;
        if (a.Positionals.Count > 1)
        {
            throw new UsageException($"{Name}: At most one filename argument is allowed.");
        }

        if (image is not null && size is not null)
        {
            throw new UsageException($"{Name}: --size N cannot be used together with a filename.");
        }

        if (image is null && size is null)
        {
            throw new UsageException($"{Name}: Either --size N or one filename must be specified.");
        }

        if (image is null && a.HasAny("-f", "-l"))
        {
            throw new UsageException($"{Name}: -f and -l require a filename argument.");
        }

        if (a.Has("-l"))
        {
            throw new UsageException($"{Name}: -l (measuring an internal snapshot) is not supported");
        }

        var target = Target(a.Last("-O") ?? "raw", KeyValueOptions.Parse(a.All("-o")));
        MeasureResult result;
        if (size is not null)
        {
            long bytes = ParseSize(size);
            if (target.Format == "qcow2" && Qcow2Layout.IsTooLarge(bytes, target.ClusterSize, target.ExtendedL2))
            {
                throw new UsageException($"{Name}: The image size is too large (try using a larger cluster size)");
            }

            result = ImageMeasure.ForSize(bytes, target);
        }
        else
        {
            if (!File.Exists(image))
            {
                throw new UsageException($"{Name}: Could not open '{image}': No such file or directory");
            }

            try
            {
                result = ImageMeasure.ForImage(image!, a.Last("-f"), target, lockImage: !a.HasAny("-U", "--force-share"));
            }
            catch (MeasureFailedException e)
            {
                throw new UsageException($"{Name}: {image}: {e.Message}");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
            {
                // qemu-img measure exits 1 for every failure, an image it cannot open included.
                throw new UsageException($"{Name}: Could not open '{image}': {e.Message}");
            }
        }

        Console.Write(json ? Json(result) : Human(result));
        return 0;
    }

    internal static string Human(MeasureResult r)
    {
        string text = FormattableString.Invariant($"required size: {r.Required}\nfully allocated size: {r.FullyAllocated}\n");
        return r.Bitmaps is { } b ? text + FormattableString.Invariant($"bitmaps size: {b}\n") : text;
    }

    internal static string Json(MeasureResult r) => OutputFormat.Json(w =>
    {
        w.WriteStartObject();
        if (r.Bitmaps is { } b)
        {
            w.WriteNumber("bitmaps", b);
        }

        w.WriteNumber("required", r.Required);
        w.WriteNumber("fully-allocated", r.FullyAllocated);
        w.WriteEndObject();
    }) + "\n";

    /// <summary>The target from -O and -o, with qemu-img's checks and messages; defaults are those of <c>create</c>.</summary>
    internal static MeasureTarget Target(string format, KeyValueOptions o)
    {
        if (format is not ("qcow2" or "raw"))
        {
            throw new UsageException($"measure: output format '{format}' is not supported (qcow2 or raw)");
        }

        string[] allowed = format == "raw" ? ["preallocation", "size"] : Qcow2Keys;
        foreach (string key in o.Keys)
        {
            if (Array.IndexOf(allowed, key) < 0)
            {
                throw new UsageException(key.StartsWith("encrypt", StringComparison.Ordinal)
                    ? "measure: Encrypted images are not supported"
                    : $"measure: Invalid parameter '{key}'");
            }
        }

        if (format == "raw")
        {
            // A raw target's size is its virtual size whatever the preallocation (qemu-img does not read the value).
            return new MeasureTarget { Format = "raw" };
        }

        bool preallocateData = o.Get("preallocation") switch
        {
            null or "off" or "metadata" => false,
            "falloc" or "full" => true,
            var v => throw new UsageException($"measure: invalid parameter value: {v}"),
        };
        int version = o.Get("compat") switch
        {
            null or "1.1" or "v3" => 3,
            "0.10" or "v2" => 2,
            var v => throw new UsageException($"measure: Invalid compatibility level: '{v}'"),
        };
        int? clusterSize = Qcow2CreateOptionParser.ClusterSize(o, "measure: ");
        int refcountBits = 16;
        if (o.Get("refcount_bits") is { } rb && !int.TryParse(rb, NumberStyles.None, CultureInfo.InvariantCulture, out refcountBits))
        {
            throw new UsageException("measure: Parameter 'refcount_bits' expects a number");
        }

        bool? extendedL2Option;
        try
        {
            extendedL2Option = o.GetBool("extended_l2");
        }
        catch (UsageException e)
        {
            throw new UsageException($"measure: {e.Message}");
        }

        var defaults = new Qcow2CreateOptions { ClusterSize = clusterSize, ExtendedL2 = extendedL2Option, Version = version };
        int effectiveCluster = defaults.EffectiveClusterSize;
        bool extendedL2 = defaults.EffectiveExtendedL2;
        if (effectiveCluster is < 512 or > 2 * 1024 * 1024 || (effectiveCluster & (effectiveCluster - 1)) != 0)
        {
            throw new UsageException("measure: Cluster size must be a power of two between 512 and 2048k");
        }

        if (extendedL2 && effectiveCluster < 16384)
        {
            throw new UsageException("measure: Extended L2 entries are only supported with cluster sizes of at least 16384 bytes");
        }

        if (refcountBits is < 1 or > 64 || (refcountBits & (refcountBits - 1)) != 0)
        {
            throw new UsageException("measure: Refcount width must be a power of two and may not exceed 64 bits");
        }

        if (version == 2 && refcountBits != 16)
        {
            throw new UsageException("measure: Different refcount widths than 16 bits require compatibility level 1.1 or above (use compat=1.1 or greater)");
        }

        return new MeasureTarget
        {
            Format = "qcow2",
            ClusterSize = effectiveCluster,
            ExtendedL2 = extendedL2,
            RefcountBits = refcountBits,
            Version = version,
            HasBackingFile = o.Get("backing_file") is not null,
            PreallocateData = preallocateData,
        };
    }

    private static long ParseSize(string text)
    {
        if (SizeParser.TryParse(text) is { } bytes)
        {
            return bytes;
        }

        // A well-formed number that does not fit is out of range; anything else is not a size at all.
        string number = text.Length > 0 && "bBkKmMgGtTpPeE".Contains(text[^1], StringComparison.Ordinal) ? text[..^1] : text;
        bool wellFormed = number.Length > 0 && number.All(c => char.IsAsciiDigit(c) || c == '.');
        throw new UsageException(wellFormed
            ? "measure: Invalid image size specified. Must be between 0 and 9223372036854775807."
            : $"measure: Invalid image size specified. {SizeParser.Hint}");
    }
}
