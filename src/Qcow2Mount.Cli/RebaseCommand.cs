using Qcow2Mount.Cli.Options;
using Qcow2Mount.Core.Tools;

namespace Qcow2Mount.Cli;

/// <summary><c>qcow2mount rebase</c>: change the backing file of an image, keeping its content, like qemu-img rebase.</summary>
internal sealed class RebaseCommand : ICommand
{
    public const string Help = """
        usage: qcow2mount rebase [-f FMT] [-t CACHE] [-T SRC_CACHE] [-p] [-q] [-u] -b BACKING [-F BACKING_FMT] IMAGE

        Changes the backing file of IMAGE (qcow2) to BACKING. A relative BACKING is looked up
        relative to the directory of IMAGE, and is written into the header as given.

        Safe mode (default): IMAGE keeps its guest-visible content. Every range IMAGE does not
        allocate itself is compared between the old backing chain and the new one, a subcluster
        (extended L2) or cluster at a time, and each one that differs gets the old chain's data
        written into IMAGE; then the header names BACKING. -b "" rebases onto no backing file
        (everything the old chain provides is copied). A BACKING shorter than IMAGE reads as
        zeros past its end. The old backing chain must still be readable.

        Unsafe mode (-u): only the backing file name and format in the header change (the old
        backing file need not exist; -u without -b removes the backing file).

        Options:
          -f FMT        format of IMAGE (qcow2; a raw image has no backing file)
          -b BACKING    the new backing file ("" for none)
          -F FMT        format of BACKING: qcow2 or raw (needed with a BACKING, as qemu-img 7.2)
          -u            unsafe mode: rewrite the header only
          -t CACHE      accepted for compatibility (cache mode of IMAGE)
          -T SRC_CACHE  accepted for compatibility (cache mode of the backing files)
          -p            show progress (on a terminal only)
          -q            quiet
          -h, --help    show this help

        Every image is opened with QEMU's locks: an image in use (mounted, or open in QEMU) is
        refused before anything changes. Ctrl+C stops the copy leaving IMAGE on its old backing
        file, reading as before; the header changes only after the copied data is flushed.
        Not supported: -U, -c, -o, --object, --image-opts (a usage error).

        Exit status: 0 rebased, 1 any error (qemu-img's codes), 130 interrupted.
        """;

    private static readonly Dictionary<string, bool> Spec = new()
    {
        ["-f"] = true, ["-t"] = true, ["-T"] = true, ["-p"] = false, ["-q"] = false, ["-u"] = false, ["-b"] = true, ["-F"] = true,
        ["-U"] = false, ["--force-share"] = false, ["-c"] = false, ["--compress"] = false, ["-o"] = true,
        ["--object"] = true, ["--image-opts"] = false, ["-h"] = false, ["--help"] = false,
    };

    public string Name => "rebase";

    public string Summary => "change the backing file of an image (like qemu-img rebase)";

    public int Run(string[] args)
    {
        var a = ArgumentReader.Parse(Name, args, Spec);
        if (a.PrintedHelp(Help))
        {
            return 0;
        }

        ChainVerb.RefuseUnsupported(Name, a, "-U", "--force-share", "-c", "--compress", "-o", "--object", "--image-opts");
        if (a.Positionals.Count != 1)
        {
            throw new UsageException("rebase: Expecting one image file name");
        }

        bool unsafeMode = a.Has("-u");
        string? backing = a.Last("-b");
        if (backing is null && !unsafeMode)
        {
            throw new UsageException("rebase: Must specify backing file (-b) or use unsafe mode (-u)");
        }

        if (a.Last("-t") is { } cache && !ChainVerb.IsCacheMode(cache))
        {
            Console.Error.WriteLine($"qcow2mount: Invalid cache option: {cache}");
            return 1;
        }

        if (a.Last("-T") is { } sourceCache && !ChainVerb.IsCacheMode(sourceCache))
        {
            Console.Error.WriteLine($"qcow2mount: Invalid source cache option: {sourceCache}");
            return 1;
        }

        string image = a.Positionals[0];
        var progress = new ProgressLine(a.Has("-p") && !a.Has("-q"));
        using var interrupt = new InterruptSignal();
        var options = new ChainOperationOptions
        {
            Format = a.Last("-f"),
            Backing = backing ?? "",
            BackingFormat = a.Last("-F"),
            Unsafe = unsafeMode,
            Progress = progress.Report,
            Cancellation = interrupt.Token,
        };

        return ChainVerb.Run(Name, progress, () =>
        {
            ArgumentReader.ExistingFile(image);
            ImageRebaser.Rebase(image, options);
        });
    }
}
