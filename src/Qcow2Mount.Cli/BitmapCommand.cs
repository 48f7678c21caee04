using Qcow2Mount.Cli.Options;
using Qcow2Mount.Core;
using Qcow2Mount.Core.Errors;
using Qcow2Mount.Core.Tools;

namespace Qcow2Mount.Cli;

/// <summary><c>qcow2mount bitmap</c>: add, remove, clear, enable, disable or merge persistent dirty bitmaps, like qemu-img bitmap.</summary>
internal sealed class BitmapCommand : ICommand
{
    public const string Help = """
        usage: qcow2mount bitmap (--add | --remove | --clear | --enable | --disable | --merge SOURCE)... [-g GRANULARITY] [-f qcow2|raw] IMAGE BITMAP

        Changes the persistent dirty bitmaps of a qcow2 image (incremental backups), like qemu-img bitmap. Several
        operations are applied in the order given; one that fails stops the rest (the ones before it are kept).

        Options:
          --add            create BITMAP, empty and enabled (it records every write from now on)
          --remove         delete BITMAP and free its clusters
          --clear          make BITMAP empty
          --enable         make BITMAP record writes
          --disable        stop BITMAP recording writes (its contents are kept)
          --merge SOURCE   make every granule dirty in bitmap SOURCE (of the same image) dirty in BITMAP
          -g GRANULARITY   bytes per bit of a new bitmap: a power of 2 from 512 to 2G (k, M, G suffixes);
                           default: the cluster size, within 4k–64k (only with --add)
          -f FMT           image format: qcow2 or raw (default: probe; a raw image has no bitmaps)
          -h, --help       show this help

        Bitmaps are kept up to date by every read-write use (mounts included) and stored on a clean close; a process
        killed while the image is open leaves them "in-use" (inconsistent), as QEMU does.
        An image that is mounted read-write or open in QEMU cannot be changed (the image lock).
        Not supported: --merge from another image (-b, -F), --object, --image-opts.

        Exit status: 0 success, 1 any error (qemu-img's codes).
        """;

    private static readonly Dictionary<string, BitmapStep> Steps = new()
    {
        ["--add"] = BitmapStep.Add, ["--remove"] = BitmapStep.Remove, ["--clear"] = BitmapStep.Clear,
        ["--enable"] = BitmapStep.Enable, ["--disable"] = BitmapStep.Disable, ["--merge"] = BitmapStep.Merge,
    };

    private static readonly Dictionary<string, bool> Spec = new()
    {
        ["--add"] = false, ["--remove"] = false, ["--clear"] = false, ["--enable"] = false, ["--disable"] = false,
        ["--merge"] = true, ["-b"] = true, ["-F"] = true, ["-g"] = true, ["-f"] = true, ["-h"] = false, ["--help"] = false,
    };

    public string Name => "bitmap";

    public string Summary => "add, remove, clear, enable, disable or merge persistent dirty bitmaps (like qemu-img bitmap)";

    public int Run(string[] args)
    {
        var a = ArgumentReader.Parse(Name, args, Spec);
        if (a.PrintedHelp(Help))
        {
            return 0;
        }

        var steps = a.InOrder.Where(o => Steps.ContainsKey(o.Name)).Select(o => (Steps[o.Name], o.Value)).ToList();
        bool merge = a.Has("--merge");
        if (steps.Count == 0)
        {
            return Fail("Need at least one of --add, --remove, --clear, --enable, --disable, or --merge");
        }

        if (a.Has("-g") && !steps.Exists(s => s.Item1 == BitmapStep.Add))
        {
            return Fail("granularity only supported with --add");
        }

        if (a.Has("-b") && !merge)
        {
            return Fail("Merge bitmap source file only supported with --merge");
        }

        if (a.Has("-F") && !a.Has("-b"))
        {
            return Fail("-F only supported with -b");
        }

        long granularity = 0;
        if (a.Last("-g") is { } g)
        {
            if (SizeParser.TryParse(g) is not { } parsed || parsed < 0)
            {
                return Fail("Invalid granularity specified. " + SizeParser.Hint);
            }

            granularity = parsed;
        }

        if (a.Positionals.Count != 2)
        {
            return Fail("Expecting filename and bitmap name");
        }

        if (a.Has("-b"))
        {
            return Fail("--merge -b (a bitmap of another image) is not supported: merge from a bitmap of the same image");
        }

        string image = a.Positionals[0];
        string bitmap = a.Positionals[1];
        try
        {
            ArgumentReader.ExistingFile(image);
            string format = DiskImage.ResolveFormat(image, a.Last("-f"));
            if (format != "qcow2")
            {
                return Fail($"Operation {steps[0].Item1.ToString().ToLowerInvariant()} on bitmap {bitmap} failed: Can't store persistent bitmaps to {image}: Operation not supported");
            }

            ImageBitmaps.Apply(image, bitmap, steps, granularity);
            return 0;
        }
        catch (Exception e) when (e is UsageException or IOException or UnauthorizedAccessException)
        {
            // qemu-img bitmap exits 1 for every failure, the image that cannot be opened (or is locked) included.
            return Fail(e.Message);
        }
    }

    private static int Fail(string message)
    {
        Console.Error.WriteLine($"qcow2mount: {message}");
        return 1;
    }
}
