using System.Globalization;
using Qcow2Mount.Cli.Options;
using Qcow2Mount.Core;
using Qcow2Mount.Core.Bench;
using Qcow2Mount.Core.Tools;

namespace Qcow2Mount.Cli;

/// <summary><c>qcow2mount bench</c>: qemu-img bench's sequential request pattern, straight into the engine (no FUSE).</summary>
internal sealed class BenchCommand : ICommand
{
    public const string Help = """
        usage: qcow2mount bench [-c COUNT] [-d DEPTH] [-f FMT] [--flush-interval=N] [-o OFFSET]
                                [--pattern=BYTE] [-q] [-s BUFFER_SIZE] [-S STEP_SIZE] [-t CACHE] [-w] [-U] IMAGE

        Sends COUNT read (or, with -w, write) requests of BUFFER_SIZE bytes to IMAGE through the
        qcow2 engine, DEPTH at a time, and prints how long they took, as qemu-img bench does: the
        first request starts at OFFSET, each next one STEP_SIZE further on, wrapping at the end of
        the disk. It measures the engine without a FUSE round trip per request, next to
        'qemu-img bench' with the same options.

        Options:
          -c COUNT            number of requests (default 75000)
          -d DEPTH            requests in parallel, one thread each (default 64)
          -f FMT              image format: qcow2 or raw (default: probe, as QEMU;
                              a *.qcow2 without the qcow2 magic is then refused)
          --flush-interval=N  write tests: after every N requests wait for those in flight and
                              flush (N must be at least DEPTH)
          -o OFFSET           offset of the first request (default 0)
          --pattern=BYTE      the byte written (default 0)
          -s BUFFER_SIZE      bytes per request (default 4096)
          -S STEP_SIZE        distance between requests (default: BUFFER_SIZE)
          -t CACHE            writeback (default), none or unsafe: no flush while timing;
                              writethrough or directsync: a flush after every write
          -w                  write instead of read (this changes IMAGE)
          -U                  open without taking the image locks (read tests only)
          -q                  quiet
          -h, --help          show this help

        Exit status: 0 success, 1 error.
        """;

    private static readonly Dictionary<string, bool> Spec = new()
    {
        ["-c"] = true, ["-d"] = true, ["-f"] = true, ["--flush-interval"] = true, ["-o"] = true, ["--pattern"] = true,
        ["-q"] = false, ["-s"] = true, ["-S"] = true, ["-t"] = true, ["-w"] = false, ["-U"] = false,
        ["-h"] = false, ["--help"] = false,
    };

    public string Name => "bench";

    public string Summary => "time sequential reads or writes into an image, without FUSE (like qemu-img bench)";

    public int Run(string[] args)
    {
        var a = ArgumentReader.Parse(Name, args, Spec);
        if (a.PrintedHelp(Help))
        {
            return 0;
        }

        string image = a.SingleExistingImage(Name);
        // qemu-img's cache modes, as convert reads them: writeback/none flush once at the end (untimed),
        // writethrough/directsync after every write, unsafe never.
        var cache = a.Last("-t") switch
        {
            null or "writeback" or "none" => TargetCache.Writeback,
            "unsafe" => TargetCache.Unsafe,
            "writethrough" or "directsync" => TargetCache.Writethrough,
            var other => throw new UsageException($"bench: Invalid cache mode '{other}' (none, writeback, writethrough, directsync or unsafe)"),
        };
        var options = new BenchOptions
        {
            Count = Number(a.Last("-c"), 75000, 0, "request count"),
            Depth = Number(a.Last("-d"), 64, 1, "queue depth"),
            Offset = a.Last("-o") is { } o ? SizeParser.Parse(o, "offset") : 0,
            BufferSize = a.Last("-s") is { } s ? BufferSize(s) : 4096,
            Step = a.Last("-S") is { } step ? SizeParser.Parse(step, "step_size") : null,
            Write = a.Has("-w"),
            Pattern = a.Last("--pattern") is { } p ? PatternByte(p) : (byte)0,
            FlushInterval = Number(a.Last("--flush-interval"), 0, 0, "flush interval"),
            FlushEachWrite = cache == TargetCache.Writethrough,
        };
        try
        {
            ImageBench.Validate(options);
        }
        catch (ArgumentException e)
        {
            throw new UsageException($"bench: {e.Message}");
        }

        if (a.Last("-f") is { } f && f is not ("qcow2" or "raw"))
        {
            throw new UsageException($"bench: Unknown file format '{f}' (qcow2 or raw)");
        }

        if (options.Write && a.Has("-U"))
        {
            // Writing without the lock could corrupt an image someone else uses (qemu-img refuses it the same way).
            throw new UsageException("bench: force-share (-U) can only be used with read-only images (without -w)");
        }

        using var disk = DiskImage.Open(image, a.Last("-f"), new ImageOpenOptions { ReadOnly = !options.Write, Lock = !a.Has("-U") });

        bool quiet = a.Has("-q");
        if (!quiet)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Sending {options.Count} {(options.Write ? "write" : "read")} requests, {options.BufferSize} bytes each, {options.Depth} in parallel (starting at offset {options.Offset}, step size {options.Step ?? options.BufferSize})"));
            if (options.FlushInterval > 0)
            {
                Console.WriteLine($"Sending flush every {options.FlushInterval} requests");
            }
        }

        TimeSpan elapsed;
        try
        {
            elapsed = ImageBench.Run(disk, options);
            if (options.Write && cache == TargetCache.Writeback)
            {
                disk.Flush();
            }
        }
        catch (IOException e) when (e is not Qcow2Mount.Core.Errors.Qcow2Exception)
        {
            throw new UsageException($"bench: {e.Message}");
        }

        if (!quiet)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Run completed in {elapsed.TotalSeconds:F3} seconds."));
        }

        return 0;
    }

    private static int Number(string? text, int fallback, int min, string what)
    {
        if (text is null)
        {
            return fallback;
        }

        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n >= min
            ? n
            : throw new UsageException($"bench: Invalid {what} specified");
    }

    private static int BufferSize(string text)
    {
        long n = SizeParser.Parse(text, "buffer size");
        return n <= int.MaxValue ? (int)n : throw new UsageException($"bench: Invalid buffer size specified. Must be between 0 and {int.MaxValue}.");
    }

    private static byte PatternByte(string text) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n <= 255
            ? (byte)n
            : text.StartsWith("0x", StringComparison.OrdinalIgnoreCase) && byte.TryParse(text[2..], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out byte b)
                ? b
                : throw new UsageException("bench: Invalid pattern byte specified");
}
