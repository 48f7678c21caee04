using System.Globalization;
using System.Text;
using System.Text.Json;
using Qcow2Mount.Cli.Options;
using Qcow2Mount.Core.Tools;

namespace Qcow2Mount.Cli;

/// <summary><c>qcow2mount info</c>: what qemu-img info prints, as text or the same JSON.</summary>
internal sealed class InfoCommand : ICommand
{
    public const string Help = """
        usage: qcow2mount info [-f qcow2|raw] [--output=human|json] [--backing-chain] [-U] IMAGE

        Shows the format, virtual size, disk usage, cluster size, backing file, snapshots and
        qcow2 details of IMAGE, like qemu-img info (the JSON has the same fields).

        Options:
          -f FMT                 treat IMAGE as qcow2 or raw (default: probe, as QEMU; a *.qcow2
                                 without the qcow2 magic is then refused)
          --output=human|json    output format (default human)
          --backing-chain        also describe every backing file (JSON: an array, top first)
          -U, --force-share      accepted for compatibility (info never locks or writes)
          -h, --help             show this help

        Exit status: 0 success, 1 error.
        """;

    private static readonly Dictionary<string, bool> Spec = new()
    {
        ["-f"] = true, ["--output"] = true, ["--backing-chain"] = false, ["-U"] = false, ["--force-share"] = false,
        ["-h"] = false, ["--help"] = false,
    };

    public string Name => "info";

    public string Summary => "show image details (like qemu-img info)";

    public int Run(string[] args)
    {
        var a = ArgumentReader.Parse(Name, args, Spec);
        if (a.PrintedHelp(Help))
        {
            return 0;
        }

        bool json = OutputFormat.IsJson(Name, a.Last("--output"));
        string image = a.SingleExistingImage(Name);

        List<ImageInfo> chain;
        try
        {
            chain = a.Has("--backing-chain") ? ImageInfo.ReadChain(image, a.Last("-f")) : [ImageInfo.Read(image, a.Last("-f"))];
        }
        catch (ArgumentException e)
        {
            throw new UsageException(e.Message);
        }
        catch (FileNotFoundException e)
        {
            throw new UsageException($"Could not open '{e.FileName}': No such file or directory");
        }

        if (json)
        {
            Console.WriteLine(OutputFormat.Json(w =>
            {
                if (a.Has("--backing-chain"))
                {
                    w.WriteStartArray();
                    chain.ForEach(i => WriteJson(w, i));
                    w.WriteEndArray();
                }
                else
                {
                    WriteJson(w, chain[0]);
                }
            }));
        }
        else
        {
            Console.Write(string.Join("\n", chain.Select(Human)));
        }

        return 0;
    }

    internal static void WriteJson(Utf8JsonWriter w, ImageInfo i)
    {
        w.WriteStartObject();
        if (i.Snapshots.Count > 0)
        {
            w.WriteStartArray("snapshots");
            foreach (var s in i.Snapshots)
            {
                w.WriteStartObject();
                if (s.Icount is { } icount)
                {
                    w.WriteNumber("icount", icount);
                }

                w.WriteNumber("vm-clock-nsec", s.VmClockNanoseconds % 1_000_000_000);
                w.WriteString("name", s.Name);
                w.WriteNumber("date-sec", s.DateSeconds);
                w.WriteNumber("date-nsec", s.DateNanoseconds);
                w.WriteNumber("vm-clock-sec", s.VmClockNanoseconds / 1_000_000_000);
                w.WriteString("id", s.Id);
                w.WriteNumber("vm-state-size", s.VmStateSize);
                w.WriteEndObject();
            }

            w.WriteEndArray();
        }

        if (i.BackingFormat is { } bf)
        {
            w.WriteString("backing-filename-format", bf);
        }

        w.WriteNumber("virtual-size", i.VirtualSize);
        w.WriteString("filename", i.Filename);
        if (i.ClusterSize is { } cs)
        {
            w.WriteNumber("cluster-size", cs);
        }

        w.WriteString("format", i.Format);
        w.WriteNumber("actual-size", i.ActualSize);
        if (i.Qcow2 is { } q)
        {
            w.WriteStartObject("format-specific");
            w.WriteString("type", "qcow2");
            w.WriteStartObject("data");
            w.WriteString("compat", q.Compat);
            w.WriteString("compression-type", q.CompressionType);
            if (q.Compat != "0.10")
            {
                w.WriteBoolean("lazy-refcounts", q.LazyRefcounts);
            }

            if (q.Bitmaps.Count > 0)
            {
                w.WriteStartArray("bitmaps");
                foreach (var bitmap in q.Bitmaps)
                {
                    w.WriteStartObject();
                    w.WriteStartArray("flags");
                    foreach (string f in bitmap.Flags)
                    {
                        w.WriteStringValue(f);
                    }

                    w.WriteEndArray();
                    w.WriteString("name", bitmap.Name);
                    w.WriteNumber("granularity", bitmap.Granularity);
                    w.WriteEndObject();
                }

                w.WriteEndArray();
            }

            w.WriteNumber("refcount-bits", q.RefcountBits);
            if (q.DataFile is { } df)
            {
                w.WriteString("data-file", df);
                w.WriteBoolean("data-file-raw", q.DataFileRaw);
            }

            if (q.Compat != "0.10")
            {
                w.WriteBoolean("corrupt", q.Corrupt);
                w.WriteBoolean("extended-l2", q.ExtendedL2);
            }

            w.WriteEndObject();
            w.WriteEndObject();
        }

        if (i.FullBackingFilename is { } full)
        {
            w.WriteString("full-backing-filename", full);
        }

        if (i.BackingFilename is { } b)
        {
            w.WriteString("backing-filename", b);
        }

        w.WriteBoolean("dirty-flag", i.DirtyFlag);
        w.WriteEndObject();
    }

    internal static string Human(ImageInfo i)
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"image: {i.Filename}\n");
        sb.Append(CultureInfo.InvariantCulture, $"file format: {i.Format}\n");
        sb.Append(CultureInfo.InvariantCulture, $"virtual size: {OutputFormat.HumanSize(i.VirtualSize)} ({i.VirtualSize} bytes)\n");
        sb.Append(CultureInfo.InvariantCulture, $"disk size: {OutputFormat.HumanSize(i.ActualSize)}\n");
        if (i.ClusterSize is { } cs)
        {
            sb.Append(CultureInfo.InvariantCulture, $"cluster_size: {cs}\n");
        }

        if (i.DirtyFlag)
        {
            sb.Append("cleanly shut down: no\n");
        }

        if (i.BackingFilename is { } b)
        {
            sb.Append("backing file: ").Append(b);
            if (i.FullBackingFilename != b)
            {
                sb.Append(" (actual path: ").Append(i.FullBackingFilename).Append(')');
            }

            sb.Append('\n');
            if (i.BackingFormat is { } bf)
            {
                sb.Append("backing file format: ").Append(bf).Append('\n');
            }
        }

        if (i.Snapshots.Count > 0)
        {
            SnapshotListText.Append(sb, i.Snapshots);
        }

        if (i.Qcow2 is { } q)
        {
            sb.Append("Format specific information:\n");
            sb.Append("    compat: ").Append(q.Compat).Append('\n');
            sb.Append("    compression type: ").Append(q.CompressionType).Append('\n');
            if (q.Compat != "0.10")
            {
                sb.Append("    lazy refcounts: ").Append(Bool(q.LazyRefcounts)).Append('\n');
            }

            if (q.Bitmaps.Count > 0)
            {
                sb.Append("    bitmaps:\n");
                for (int n = 0; n < q.Bitmaps.Count; n++)
                {
                    var bitmap = q.Bitmaps[n];
                    sb.Append(CultureInfo.InvariantCulture, $"        [{n}]:\n            flags:\n");
                    for (int f = 0; f < bitmap.Flags.Count; f++)
                    {
                        sb.Append(CultureInfo.InvariantCulture, $"                [{f}]: {bitmap.Flags[f]}\n");
                    }

                    sb.Append(CultureInfo.InvariantCulture, $"            name: {bitmap.Name}\n            granularity: {bitmap.Granularity}\n");
                }
            }

            sb.Append(CultureInfo.InvariantCulture, $"    refcount bits: {q.RefcountBits}\n");
            if (q.DataFile is { } df)
            {
                sb.Append("    data file: ").Append(df).Append('\n');
                sb.Append("    data file raw: ").Append(Bool(q.DataFileRaw)).Append('\n');
            }

            if (q.Compat != "0.10")
            {
                sb.Append("    corrupt: ").Append(Bool(q.Corrupt)).Append('\n');
                sb.Append("    extended l2: ").Append(Bool(q.ExtendedL2)).Append('\n');
            }
        }

        return sb.ToString();
    }

    private static string Bool(bool b) => b ? "true" : "false";
}
