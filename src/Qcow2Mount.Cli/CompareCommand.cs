using Qcow2Mount.Cli.Options;
using Qcow2Mount.Core.Tools;

namespace Qcow2Mount.Cli;

/// <summary><c>qcow2mount compare</c>: whether two images show the same guest content, like qemu-img compare.</summary>
internal sealed class CompareCommand : ICommand
{
    public const string Help = """
        usage: qcow2mount compare [-f FMT] [-F FMT] [-s] [-p] [-q] [-U] [-T CACHE] IMAGE1 IMAGE2

        Checks whether IMAGE1 and IMAGE2 have the same guest-visible content (backing chains
        included), with qemu-img compare's verdicts, messages and exit codes. Images of different
        sizes are identical when the longer one reads as zeros past the end of the shorter one.
        A range unallocated in one image and zero in the other counts as equal.

        Fast on sparse images: the walk follows both allocation maps (at subcluster granularity
        with extended L2), skips ranges both images know to be zero and ranges both read from the
        same backing file, and reads data only where it must.

        Options:
          -f, --a-format FMT   format of IMAGE1: qcow2 or raw (default: probe the magic)
          -F, --b-format FMT   format of IMAGE2: qcow2 or raw (default: probe the magic)
          -s, --strict         strict mode: also fail when the sizes differ, or at the first
                               offset whose allocation status differs (data/zero/allocated/
                               host offset, as qemu-img's block status reports them)
          -p, --progress       show progress (on a terminal only)
          -q, --quiet          print nothing; the exit status is the verdict
          -U, --force-share    open the images without taking locks
          -T, --cache CACHE    accepted for compatibility (none, writeback, writethrough,
                               directsync, unsafe); reads go through the page cache
          -h, --help           show this help

        Output: "Images are identical.", "Content mismatch at offset N!" (N is the start of
        the first differing 512-byte sector), "Warning: Image size mismatch!",
        "Strict mode: Image size mismatch!", "Strict mode: Offset N block status mismatch!".

        Exit status: 0 identical, 1 different (or a usage error), 2 an image cannot be opened,
        3 its allocation status cannot be read, 4 its data cannot be read, 130 interrupted.
        """;

    private static readonly Dictionary<string, bool> Spec = new()
    {
        ["-f"] = true, ["--a-format"] = true, ["-F"] = true, ["--b-format"] = true, ["-s"] = false, ["--strict"] = false, ["-p"] = false, ["--progress"] = false,
        ["-q"] = false, ["--quiet"] = false, ["-U"] = false, ["--force-share"] = false, ["-T"] = true, ["--cache"] = true,
        ["--image-opts"] = false, ["--object"] = true, ["-h"] = false, ["--help"] = false,
    };

    public string Name => "compare";

    public string Summary => "check whether two images have the same content (like qemu-img compare)";

    public int Run(string[] args)
    {
        var a = ArgumentReader.Parse(Name, args, Spec);
        if (a.PrintedHelp(Help))
        {
            return 0;
        }

        if (a.HasAny("--image-opts", "--object"))
        {
            throw new UsageException($"{Name}: {(a.Has("--image-opts") ? "--image-opts" : "--object")} is not supported (give image file names)");
        }

        if (a.Positionals.Count != 2)
        {
            throw new UsageException($"{Name}: Expecting two image file names");
        }

        if (a.Last("-T", "--cache") is { } cache && cache is not ("none" or "writeback" or "writethrough" or "directsync" or "unsafe"))
        {
            Console.Error.WriteLine($"qcow2mount: {Name}: Invalid source cache option: {cache}");
            return 2;
        }

        bool quiet = a.HasAny("-q", "--quiet");
        var progress = new ProgressLine(a.HasAny("-p", "--progress") && !quiet);
        using var interrupt = new InterruptSignal();
        var options = new CompareOptions
        {
            FirstFormat = a.Last("-f", "--a-format"),
            SecondFormat = a.Last("-F", "--b-format"),
            Strict = a.HasAny("-s", "--strict"),
            Lock = !a.HasAny("-U", "--force-share"),
            Progress = progress.Report,
            Cancellation = interrupt.Token,
        };

        CompareResult result;
        try
        {
            result = ImageComparer.Compare(a.Positionals[0], a.Positionals[1], options);
        }
        catch (CompareFailedException e)
        {
            progress.Finish();
            Console.Error.WriteLine($"qcow2mount: {Name}: {e.Message}");
            return e.Stage switch
            {
                CompareStage.Open => 2,
                CompareStage.Status => 3,
                _ => 4,
            };
        }
        catch (OperationCanceledException)
        {
            progress.Finish();
            Console.Error.WriteLine($"qcow2mount: {Name}: interrupted");
            return InterruptSignal.ExitCode;
        }

        progress.Finish();
        if (!quiet)
        {
            Console.Write(string.Concat(result.Lines.Select(l => l + "\n")));
        }

        return result.Identical ? 0 : 1;
    }
}
