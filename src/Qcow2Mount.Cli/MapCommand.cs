using System.Globalization;
using System.Text;
using Qcow2Mount.Cli.Options;
using Qcow2Mount.Core.Tools;

namespace Qcow2Mount.Cli;

/// <summary><c>qcow2mount map</c>: the allocation map of an image and its backing chain, like qemu-img map.</summary>
internal sealed class MapCommand : ICommand
{
    public const string Help = """
        usage: qcow2mount map [-f qcow2|raw] [--output=human|json] [--start-offset=OFFSET] [--max-length=LEN] IMAGE

        Lists which guest ranges hold data, read as zeros or are unallocated, in which layer of the
        backing chain (depth 0 = IMAGE itself) and at which host offset, like qemu-img map.
        Human output lists only ranges with data (it fails on compressed clusters, which have no
        single host offset: use --output=json).

        Options:
          -f FMT                 treat IMAGE as qcow2 or raw (default: probe, as QEMU; a *.qcow2
                                 without the qcow2 magic is then refused)
          --output=human|json    output format (default human)
          -s, --start-offset=N   first guest byte to map
          -l, --max-length=N     map at most N bytes
          -U, --force-share      accepted for compatibility
          -h, --help             show this help

        Exit status: 0 success, 1 error.
        """;

    private static readonly Dictionary<string, bool> Spec = new()
    {
        ["-f"] = true, ["--output"] = true, ["-s"] = true, ["--start-offset"] = true, ["-l"] = true, ["--max-length"] = true,
        ["-U"] = false, ["--force-share"] = false, ["-h"] = false, ["--help"] = false,
    };

    public string Name => "map";

    public string Summary => "show the allocation map of an image (like qemu-img map)";

    public int Run(string[] args)
    {
        var a = ArgumentReader.Parse(Name, args, Spec);
        if (a.PrintedHelp(Help))
        {
            return 0;
        }

        bool json = OutputFormat.IsJson(Name, a.Last("--output"));
        string image = a.SingleExistingImage(Name);

        long start = a.Last("-s", "--start-offset") is { } s ? SizeParser.Parse(s, "start offset") : 0;
        long? length = a.Last("-l", "--max-length") is { } l ? SizeParser.Parse(l, "max length") : null;
        List<MapEntry> entries;
        try
        {
            entries = ImageMap.Build(image, a.Last("-f"), start, length);
        }
        catch (ArgumentException e)
        {
            throw new UsageException(e.Message);
        }

        if (json)
        {
            Console.Write(Json(entries));
            return 0;
        }

        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"{"Offset",-16}{"Length",-16}{"Mapped to",-16}File\n");
        foreach (var e in entries)
        {
            if (e.Data && e.Offset is null)
            {
                Console.Write(sb.ToString());
                Console.Error.WriteLine("qcow2mount: File contains external, encrypted or compressed clusters.");
                return 1;
            }

            if (e.Data && !e.Zero)
            {
                sb.Append(CultureInfo.InvariantCulture, $"{Hex(e.Start),-16}{Hex(e.Length),-16}{Hex(e.Offset!.Value),-16}{e.Filename}\n");
            }
        }

        Console.Write(sb.ToString());
        return 0;
    }

    /// <summary>qemu-img map's JSON: one object per line, in an array.</summary>
    internal static string Json(IReadOnlyList<MapEntry> entries)
    {
        var sb = new StringBuilder("[");
        for (int i = 0; i < entries.Count; i++)
        {
            var e = entries[i];
            sb.Append(CultureInfo.InvariantCulture, $"{{ \"start\": {e.Start}, \"length\": {e.Length}, \"depth\": {e.Depth}, \"present\": {Bool(e.Present)}, \"zero\": {Bool(e.Zero)}, \"data\": {Bool(e.Data)}");
            if (e.Offset is { } o)
            {
                sb.Append(CultureInfo.InvariantCulture, $", \"offset\": {o}");
            }

            sb.Append('}').Append(i + 1 < entries.Count ? ",\n" : "");
        }

        return sb.Append("]\n").ToString();
    }

    private static string Hex(long v) => v == 0 ? "0" : string.Create(CultureInfo.InvariantCulture, $"0x{v:x}");

    private static string Bool(bool b) => b ? "true" : "false";
}
