using Qcow2Mount.Cli.Options;
using Qcow2Mount.Core.Errors;
using Qcow2Mount.Core.Tools;

namespace Qcow2Mount.Cli;

/// <summary><c>qcow2mount convert</c>: copy an image (backing chain flattened) into a new raw or qcow2 image, like qemu-img convert.</summary>
internal sealed class ConvertCommand : ICommand
{
    public const string Help = """
        usage: qcow2mount convert [-f FMT] [-l SNAPSHOT] [-O qcow2|raw] [-o OPTIONS] [-c] [-t CACHE] [-p] [-q] SOURCE TARGET

        Writes the content of SOURCE (a qcow2 image with its backing chain, or a raw file) into a
        new image TARGET. Zero ranges are not written, so TARGET stays sparse.
        An existing TARGET is overwritten only after QEMU's write lock on it is taken: a TARGET in use
        (by QEMU, a mount or another tool) is left untouched, and so is a TARGET that is SOURCE, a file
        of its backing chain or its external data file, whatever path, symlink or hard link names it.

        Options:
          -f FMT        source format: qcow2 or raw (default: probe, as QEMU;
                        a *.qcow2 without the qcow2 magic is then refused)
          -l SNAPSHOT   read this internal snapshot of SOURCE instead of its live disk, as
                        qemu-img: snapshot.id=ID,snapshot.name=NAME (either part may be left
                        out) or ID_OR_NAME (an ID first, then a name). As qemu-img, TARGET
                        gets the live disk's virtual size.
          -O FMT        target format: raw (default, as qemu-img) or qcow2
          -o OPTIONS    qcow2 target options, as for 'create' (cluster_size, extended_l2,
                        refcount_bits, compat, lazy_refcounts, compression_type, preallocation, ...)
          -c            write compressed clusters (qcow2 target; zlib or compression_type=zstd)
          -t CACHE      when the target is synced to disk, as qemu-img: unsafe (default, as
                        qemu-img convert: no sync, the page cache writes it back), writeback or
                        none (one sync at the end), writethrough or directsync (a sync after
                        every 2 MiB chunk). A qcow2 target's metadata is always synced.
          -p            show progress
          -q            quiet
          -h, --help    show this help

        Exit status: 0 success, 1 error, 2 TARGET is in use by another process or SOURCE cannot be read.
        """;

    private static readonly Dictionary<string, bool> Spec = new()
    {
        ["-f"] = true, ["-l"] = true, ["-O"] = true, ["-o"] = true, ["-c"] = false, ["-t"] = true, ["-p"] = false, ["-q"] = false, ["-U"] = false,
        ["-h"] = false, ["--help"] = false,
    };

    public string Name => "convert";

    public string Summary => "copy an image into a new raw or qcow2 image (like qemu-img convert)";

    public int Run(string[] args)
    {
        var a = ArgumentReader.Parse(Name, args, Spec);
        if (a.PrintedHelp(Help))
        {
            return 0;
        }

        var kv = KeyValueOptions.Parse(a.All("-o"));
        if (Qcow2CreateOptionParser.PrintedHelp(kv))
        {
            return 0;
        }

        if (a.Positionals.Count != 2)
        {
            throw new UsageException(a.Positionals.Count < 2 ? "convert: expecting a source and a target file name" : $"convert: unexpected argument '{a.Positionals[2]}'");
        }

        string source = a.Positionals[0], target = a.Positionals[1];
        ArgumentReader.ExistingFile(source);

        string targetFormat = a.Last("-O") ?? "raw";
        if (targetFormat is not ("raw" or "qcow2"))
        {
            throw new UsageException($"convert: Unknown file format '{targetFormat}' (qcow2 or raw)");
        }

        if (targetFormat == "raw" && kv.Keys.Count > 0)
        {
            throw new UsageException($"convert: Invalid parameter '{kv.Keys[0]}' for format raw");
        }

        if (kv.Contains("backing_file") || kv.Contains("backing_fmt"))
        {
            throw new UsageException("convert: a backing file for the target is not supported (the target is always complete)");
        }

        if (kv.Contains("size"))
        {
            throw new UsageException("convert: Invalid parameter 'size' (the target gets the source's size)");
        }

        var cache = a.Last("-t") switch
        {
            null or "unsafe" => TargetCache.Unsafe,
            "writeback" or "none" => TargetCache.Writeback,
            "writethrough" or "directsync" => TargetCache.Writethrough,
            var other => throw new UsageException($"convert: Invalid cache option: {other} (none, writeback, writethrough, directsync or unsafe)"),
        };
        var options = new ConvertOptions
        {
            Cache = cache,
            SourceFormat = a.Last("-f"),
            Snapshot = a.Last("-l") is { } snapshot ? ParseSnapshot(snapshot) : null,
            TargetFormat = targetFormat,
            Qcow2 = Qcow2CreateOptionParser.Parse(kv, 0),
            Compress = a.Has("-c"),
        };
        bool progress = a.Has("-p") && !a.Has("-q");
        if (progress)
        {
            int last = -1;
            options = options with
            {
                Progress = f =>
                {
                    int hundredths = (int)(f * 10000);
                    if (hundredths != last)
                    {
                        last = hundredths;
                        Console.Write(FormattableString.Invariant($"    ({f * 100:F2}/100%)\r"));
                    }
                },
            };
            Console.Write("    (0.00/100%)\r");
        }

        try
        {
            ImageConverter.Convert(source, target, options);
        }
        catch (ArgumentException e)
        {
            throw new UsageException($"convert: {e.Message}");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException && e is not Qcow2Exception)
        {
            throw new UsageException($"convert: {e.Message}");
        }

        if (progress)
        {
            Console.WriteLine("    (100.00/100%)");
        }

        return 0;
    }

    private static Core.SnapshotSelector ParseSnapshot(string param)
    {
        try
        {
            return Core.SnapshotSelector.Parse(param) with { KeepLiveSize = true };
        }
        catch (ArgumentException e)
        {
            throw new UsageException($"convert: {e.Message}");
        }
    }
}
