using Qcow2Mount.Cli.Options;
using Qcow2Mount.Core.Errors;
using Qcow2Mount.Core.Tools;

namespace Qcow2Mount.Cli;

/// <summary><c>qcow2mount commit</c>: write an overlay's data into its backing file (or a deeper BASE), like qemu-img commit.</summary>
internal sealed class CommitCommand : ICommand
{
    public const string Help = """
        usage: qcow2mount commit [-f FMT] [-t CACHE] [-b BASE] [-d] [-p] [-q] IMAGE

        Writes the data of IMAGE (a qcow2 overlay) into its backing file, then empties IMAGE so that
        it reads through to the backing file again. With -b, the data of every image between IMAGE
        and BASE goes into BASE (an image of IMAGE's backing chain); IMAGE is then kept as it is
        (-b implies -d) and the images between IMAGE and BASE no longer read as before, as with
        qemu-img. A BASE shorter than IMAGE grows to IMAGE's size. Data is copied at the
        granularity the overlay allocates (subclusters with extended L2); zeros become zero
        clusters or zero subclusters in a qcow2 BASE.

        Options:
          -f FMT        format of IMAGE (default: probe; a raw image has no backing file)
          -t CACHE      accepted for compatibility (none, writeback, writethrough, directsync,
                        unsafe); writes go through the page cache and are flushed at the end
          -b BASE       commit into BASE (a file name as the chain stores it, or a path to it)
          -d            do not empty IMAGE after the commit
          -p            show progress (on a terminal only)
          -q            quiet: no "Image committed."
          -h, --help    show this help

        Every image is opened with QEMU's locks: an image in use (mounted, or open in QEMU) is
        refused before anything changes. Ctrl+C stops the copy with every image valid; IMAGE is
        emptied only after BASE holds its data and is flushed.
        Not supported: -r RATE_LIMIT, --object, --image-opts (a usage error).

        Exit status: 0 committed, 1 any error (qemu-img's codes), 130 interrupted.
        """;

    private static readonly Dictionary<string, bool> Spec = new()
    {
        ["-f"] = true, ["-t"] = true, ["-b"] = true, ["-d"] = false, ["-p"] = false, ["-q"] = false, ["-r"] = true,
        ["--object"] = true, ["--image-opts"] = false, ["-h"] = false, ["--help"] = false,
    };

    public string Name => "commit";

    public string Summary => "write an overlay's data into its backing file (like qemu-img commit)";

    public int Run(string[] args)
    {
        var a = ArgumentReader.Parse(Name, args, Spec);
        if (a.PrintedHelp(Help))
        {
            return 0;
        }

        ChainVerb.RefuseUnsupported(Name, a, "-r", "--object", "--image-opts");
        if (a.Positionals.Count != 1)
        {
            throw new UsageException("commit: Expecting one image file name");
        }

        if (a.Last("-t") is { } cache && !ChainVerb.IsCacheMode(cache))
        {
            Console.Error.WriteLine($"qcow2mount: Invalid cache option: {cache}");
            return 1;
        }

        string image = a.Positionals[0];
        bool quiet = a.Has("-q");
        var progress = new ProgressLine(a.Has("-p") && !quiet);
        using var interrupt = new InterruptSignal();
        var options = new ChainOperationOptions
        {
            Format = a.Last("-f"),
            Backing = a.Last("-b"),
            KeepOverlay = a.Has("-d"),
            Progress = progress.Report,
            Cancellation = interrupt.Token,
        };

        int code = ChainVerb.Run(Name, progress, () =>
        {
            ArgumentReader.ExistingFile(image);
            ImageCommitter.Commit(image, options);
        });
        if (code == 0 && !quiet)
        {
            Console.WriteLine("Image committed.");
        }

        return code;
    }
}
