using System.Text;
using Qcow2Mount.Cli.Options;
using Qcow2Mount.Core;
using Qcow2Mount.Core.Errors;
using Qcow2Mount.Core.Tools;

namespace Qcow2Mount.Cli;

/// <summary><c>qcow2mount snapshot</c>: list, create, apply and delete internal snapshots, like qemu-img snapshot.</summary>
internal sealed class SnapshotCommand : ICommand
{
    public const string Help = """
        usage: qcow2mount snapshot [-l | -c NAME | -a NAME | -d NAME] [-q] [-U] [-f qcow2|raw] IMAGE

        Lists, creates, applies or deletes the internal snapshots of a qcow2 image, like qemu-img snapshot.

        Options:
          -l            list the snapshots (qemu-img's table)
          -c NAME       create a snapshot of the disk as it is now (ID: the next free number)
          -a NAME       apply a snapshot: revert the disk (and its size) to it; NAME is an ID or a name
          -d NAME       delete the first snapshot named NAME (names only, as qemu-img)
          -q            quiet
          -U, --force-share  list an image another process has open (only with -l)
          -f FMT        image format: qcow2 or raw (default: probe; a raw image has no snapshots)
          -h, --help    show this help

        Without -l, -c, -a or -d the image is opened and nothing else happens.
        An image that is mounted read-write or open in QEMU cannot be changed (the image lock).
        Not supported: --object, --image-opts (qemu-img's; refused as unrecognized options).

        Exit status: 0 success, 1 any error (qemu-img's codes).
        """;

    private static readonly Dictionary<string, bool> Spec = new()
    {
        ["-l"] = false, ["-c"] = true, ["-a"] = true, ["-d"] = true, ["-q"] = false, ["-U"] = false, ["--force-share"] = false,
        ["-f"] = true, ["-h"] = false, ["--help"] = false,
    };

    public string Name => "snapshot";

    public string Summary => "list, create, apply or delete internal snapshots (like qemu-img snapshot)";

    public int Run(string[] args)
    {
        var a = ArgumentReader.Parse(Name, args, Spec);
        if (a.PrintedHelp(Help))
        {
            return 0;
        }

        var actions = new[] { "-l", "-c", "-a", "-d" };
        int given = actions.Sum(o => o == "-l" ? (a.Has(o) ? 1 : 0) : a.All(o).Count());
        if (given > 1)
        {
            throw new UsageException("snapshot: Cannot mix '-l', '-a', '-c', '-d'");
        }

        if (a.Positionals.Count != 1)
        {
            throw new UsageException("snapshot: Expecting one image file name");
        }

        string image = a.Positionals[0];
        string? action = actions.FirstOrDefault(a.Has);
        string? name = action is null or "-l" ? null : a.Last(action);
        bool forceShare = a.HasAny("-U", "--force-share");
        if (forceShare && action is "-c" or "-a" or "-d")
        {
            Console.Error.WriteLine($"qcow2mount: Could not open '{image}': force-share=on can only be used with read-only images");
            return 1;
        }

        try
        {
            ArgumentReader.ExistingFile(image);
            string format = DiskImage.ResolveFormat(image, a.Last("-f"));
            return Run(image, format, action, name, forceShare);
        }
        catch (SnapshotNotFoundException) when (action == "-a")
        {
            Console.Error.WriteLine($"qcow2mount: Could not apply snapshot '{name}': Failed to load snapshot: No such file or directory");
        }
        catch (SnapshotNotFoundException) when (action == "-d")
        {
            Console.Error.WriteLine($"qcow2mount: Could not delete snapshot '{name}': snapshot not found");
        }
        catch (Exception e) when (e is UnsupportedFeatureException or ImageCorruptException or ReadOnlyImageException)
        {
            Console.Error.WriteLine($"qcow2mount: Could not {Verb(action)} snapshot '{name}': {e.Message}");
        }
        catch (Exception e) when (e is UsageException or IOException or UnauthorizedAccessException)
        {
            // qemu-img snapshot exits 1 for every failure, the image that cannot be opened (or is locked) included.
            Console.Error.WriteLine($"qcow2mount: {e.Message}");
        }

        return 1;
    }

    private static int Run(string image, string format, string? action, string? name, bool forceShare)
    {
        if (format != "qcow2")
        {
            if (action is "-c" or "-a" or "-d")
            {
                throw new UnsupportedFeatureException($"{image}: a {format} image has no internal snapshots: Operation not supported");
            }

            return 0;
        }

        switch (action)
        {
            case "-c":
                ImageSnapshots.Create(image, name!);
                break;
            case "-a":
                ImageSnapshots.Apply(image, name!);
                break;
            case "-d":
                ImageSnapshots.Delete(image, name!);
                break;
            default:
                var list = ImageSnapshots.List(image, forceShare);
                if (action == "-l" && list.Count > 0)
                {
                    // qemu-img prints the table even with -q, nothing when there are no snapshots.
                    var sb = new StringBuilder();
                    SnapshotListText.Append(sb, list);
                    Console.Write(sb.ToString());
                }

                break;
        }

        return 0;
    }

    private static string Verb(string? action) => action switch
    {
        "-c" => "create",
        "-a" => "apply",
        "-d" => "delete",
        _ => "list",
    };
}
