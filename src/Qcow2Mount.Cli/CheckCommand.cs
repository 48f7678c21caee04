using System.Globalization;
using System.Text;
using Qcow2Mount.Cli.Options;
using Qcow2Mount.Core;
using Qcow2Mount.Core.Errors;
using Qcow2Mount.Core.Qcow2.Check;

namespace Qcow2Mount.Cli;

/// <summary><c>qcow2mount check</c>: qemu-img check's consistency check and repair, output and exit codes.</summary>
internal sealed class CheckCommand : ICommand
{
    public const string Help = """
        usage: qcow2mount check [-f qcow2] [-r leaks|all] [--output=human|json] [-q] IMAGE

        Checks the qcow2 metadata of IMAGE: every reference from the L1/L2 tables (active and
        snapshots), the refcount structures and the COPIED flags. Problems are listed on stderr.
        Leaked clusters (refcount too high) only waste space; corruptions (refcount too low or
        broken entries) can lose data.

        Options:
          -r leaks      repair leaked clusters (and COPIED flags)
          -r all        repair leaks and corruptions; rebuilds the refcount structure if needed
          --output=human|json   output format (default human; JSON like qemu-img's)
          -f FMT        image format (qcow2; raw images cannot be checked)
          -q            quiet: no summary on stdout
          -U            accepted for compatibility
          -h, --help    show this help

        Exit status: 0 no errors, 1 check could not be completed, 2 corruptions found,
        3 only leaks found, 63 the format cannot be checked. After a repair the status
        describes the repaired image.
        """;

    private static readonly Dictionary<string, bool> Spec = new()
    {
        ["-f"] = true, ["-r"] = true, ["--output"] = true, ["-q"] = false, ["-U"] = false, ["--force-share"] = false,
        ["-h"] = false, ["--help"] = false,
    };

    public string Name => "check";

    public string Summary => "check (and repair) image consistency (like qemu-img check)";

    public int Run(string[] args)
    {
        var a = ArgumentReader.Parse(Name, args, Spec);
        if (a.PrintedHelp(Help))
        {
            return 0;
        }

        bool json = OutputFormat.IsJson(Name, a.Last("--output"));
        var repair = a.Last("-r") switch
        {
            null => CheckRepair.None,
            "leaks" => CheckRepair.Leaks,
            "all" => CheckRepair.All,
            var v => throw new UsageException($"check: Unknown option value for -r (expecting 'leaks' or 'all'): {v}"),
        };
        string image = a.SingleExistingImage(Name);

        string format = DiskImage.ResolveFormat(image, a.Last("-f"));
        if (format != "qcow2")
        {
            Console.Error.WriteLine("qcow2mount: This image format does not support checks");
            return 63;
        }

        CheckResult result;
        try
        {
            result = ImageChecker.Check(image, repair, Console.Error.WriteLine);
        }
        catch (Qcow2Exception e)
        {
            Console.Error.WriteLine($"qcow2mount: Could not open '{image}': {e.Message}");
            return 1;
        }

        if (result.Aborted)
        {
            Console.Error.WriteLine("qcow2mount: Check failed: the refcount structure must be rebuilt (use -r all)");
            return 1;
        }

        if (!a.Has("-q"))
        {
            Console.Write(json ? Json(result) + "\n" : Human(result));
        }

        if (result.CheckErrors > 0)
        {
            Console.Error.WriteLine("qcow2mount: Check failed");
        }

        return result.ExitCode;
    }

    internal static string Json(CheckResult r) => OutputFormat.Json(w =>
    {
        w.WriteStartObject();
        if (r.ImageEndOffset > 0)
        {
            w.WriteNumber("image-end-offset", r.ImageEndOffset);
        }

        WriteIfNonZero("compressed-clusters", r.CompressedClusters);
        WriteIfNonZero("total-clusters", r.TotalClusters);
        WriteIfNonZero("corruptions", r.Corruptions);
        WriteIfNonZero("corruptions-fixed", r.CorruptionsFixed);
        w.WriteNumber("check-errors", r.CheckErrors);
        WriteIfNonZero("leaks", r.Leaks);
        WriteIfNonZero("leaks-fixed", r.LeaksFixed);
        WriteIfNonZero("allocated-clusters", r.AllocatedClusters);
        w.WriteString("filename", r.Filename);
        w.WriteString("format", r.Format);
        WriteIfNonZero("fragmented-clusters", r.FragmentedClusters);
        w.WriteEndObject();

        void WriteIfNonZero(string name, long value)
        {
            if (value != 0)
            {
                w.WriteNumber(name, value);
            }
        }
    });

    internal static string Human(CheckResult r)
    {
        var sb = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        if (r.CorruptionsFixed > 0 || r.LeaksFixed > 0)
        {
            sb.Append(inv, $"The following inconsistencies were found and repaired:\n\n    {r.LeaksFixed} leaked clusters\n    {r.CorruptionsFixed} corruptions\n\nDouble checking the fixed image now...\n");
        }

        if (r.Corruptions == 0 && r.Leaks == 0 && r.CheckErrors == 0)
        {
            sb.Append("No errors were found on the image.\n");
        }
        else
        {
            if (r.Corruptions > 0)
            {
                sb.Append(inv, $"\n{r.Corruptions} errors were found on the image.\nData may be corrupted, or further writes to the image may corrupt it.\n");
            }

            if (r.Leaks > 0)
            {
                sb.Append(inv, $"\n{r.Leaks} leaked clusters were found on the image.\nThis means waste of disk space, but no harm to data.\n");
            }

            if (r.CheckErrors > 0)
            {
                sb.Append(inv, $"\n{r.CheckErrors} internal errors have occurred during the check.\n");
            }
        }

        if (r.TotalClusters != 0 && r.AllocatedClusters != 0)
        {
            double total = r.TotalClusters, alloc = r.AllocatedClusters;
            sb.Append(inv, $"{r.AllocatedClusters}/{r.TotalClusters} = {alloc * 100 / total:F2}% allocated, {r.FragmentedClusters * 100 / alloc:F2}% fragmented, {r.CompressedClusters * 100 / alloc:F2}% compressed clusters\n");
        }

        if (r.ImageEndOffset > 0)
        {
            sb.Append(inv, $"Image end offset: {r.ImageEndOffset}\n");
        }

        return sb.ToString();
    }
}
