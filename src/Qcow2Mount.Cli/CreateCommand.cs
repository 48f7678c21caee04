using Qcow2Mount.Cli.Options;
using Qcow2Mount.Core;
using Qcow2Mount.Core.Errors;
using Qcow2Mount.Core.Qcow2;
using Qcow2Mount.Core.Qcow2.Create;
using Qcow2Mount.Core.Storage;
using Qcow2Mount.Core.Tools;

namespace Qcow2Mount.Cli;

/// <summary><c>qcow2mount create</c>: a new empty qcow2 (or raw) image, with qemu-img create's options and output.</summary>
internal sealed class CreateCommand : ICommand
{
    public const string Help = """
        usage: qcow2mount create [-f qcow2|raw] [-o OPTIONS] [-b BACKING [-F FMT]] [-u] [-q] IMAGE [SIZE]

        Creates IMAGE. SIZE is in bytes or with a k, M, G, T, P or E suffix (powers of 1024); it may be
        left out when a backing file is given, which then supplies it.

        Options:
          -f FMT        image format: qcow2 (default) or raw
          -o OPTIONS    comma-separated qcow2 options ('-o help' lists them):
                          cluster_size=SIZE      default 128k with extended_l2, 64k without
                          extended_l2=on|off     subclusters (default on; needs cluster_size >= 16k)
                          refcount_bits=N        1, 2, 4, 8, 16 (default), 32 or 64
                          compat=1.1|0.10        image version (v3 default, v2)
                          lazy_refcounts=on|off  compression_type=zlib|zstd
                          backing_file=NAME      backing_fmt=qcow2|raw
                          data_file=NAME         data_file_raw=on|off
                          preallocation=off|metadata
          -b BACKING    backing file (relative names are relative to IMAGE's directory)
          -F FMT        format of the backing file (required with -b): qcow2 or raw
          -u            do not open the backing file (SIZE is then required)
          -q            quiet: do not print the 'Formatting' line
          -h, --help    show this help

        An existing IMAGE is overwritten, but only after QEMU's write lock on it is taken: an image in use
        (by QEMU, a mount or another tool) is left untouched, and so is IMAGE when it is the backing file.

        Exit status: 0 created, 1 error, 2 IMAGE (or the data file) is in use by another process.
        """;

    private static readonly Dictionary<string, bool> Spec = new()
    {
        ["-f"] = true, ["-o"] = true, ["-b"] = true, ["-F"] = true, ["-u"] = false, ["-q"] = false,
        ["-h"] = false, ["--help"] = false,
    };

    public string Name => "create";

    public string Summary => "create a new qcow2 or raw image (like qemu-img create)";

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

        if (a.Positionals.Count is 0 or > 2)
        {
            throw new UsageException(a.Positionals.Count == 0
                ? "create: expecting a filename (see 'qcow2mount create --help')"
                : $"create: unexpected argument '{a.Positionals[2]}'");
        }

        string image = a.Positionals[0];
        string format = a.Last("-f") ?? "qcow2";
        if (a.Last("-b") is { } b)
        {
            kv.Set("backing_file", b);
        }

        if (a.Last("-F") is { } bf)
        {
            kv.Set("backing_fmt", bf);
        }

        long? size = a.Positionals.Count == 2 ? SizeParser.Parse(a.Positionals[1]) : null;
        if (kv.Get("size") is { } sizeOption)
        {
            size ??= SizeParser.Parse(sizeOption);
        }

        bool quiet = a.Has("-q");
        return format switch
        {
            "qcow2" => CreateQcow2(image, kv, size, a.Has("-u"), quiet),
            "raw" => CreateRaw(image, kv, size, quiet),
            _ => throw new UsageException($"Unknown file format '{format}' (qcow2 and raw can be created)"),
        };
    }

    /// <summary>Size of a backing file, opened the way the new image will name it (relative to the image's directory).</summary>
    internal static long BackingSize(string image, string backing, string? format)
    {
        string path = ImagePath.Resolve(image, backing);
        try
        {
            string fmt = format ?? DiskImage.ProbeFormat(path);
            if (fmt == "raw")
            {
                return new FileInfo(path).Exists ? new FileInfo(path).Length : throw new FileNotFoundException($"Could not open '{backing}': No such file or directory");
            }

            if (fmt != "qcow2")
            {
                throw new UsageException($"{image}: backing format '{fmt}' is not supported (qcow2 or raw)");
            }

            using var disk = Qcow2Image.Open(path, new ImageOpenOptions { ReadOnly = true, FollowBacking = false, Lock = false });
            return disk.Length;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            string reason = e is FileNotFoundException or DirectoryNotFoundException ? $"Could not open '{backing}': No such file or directory" : e.Message;
            throw new UsageException($"{image}: {reason}; could not open backing image");
        }
    }

    private static int CreateQcow2(string image, KeyValueOptions kv, long? size, bool unsafeBacking, bool quiet)
    {
        string? backing = kv.Get("backing_file");
        if (backing is not null && kv.Get("backing_fmt") is null)
        {
            throw new UsageException($"{image}: Backing file specified without backing format (use -F qcow2 or -F raw)");
        }

        if (backing is not null && !unsafeBacking)
        {
            long backingSize = BackingSize(image, backing, kv.Get("backing_fmt"));
            size ??= backingSize;
        }

        if (size is null)
        {
            throw new UsageException($"{image}: Image creation needs a size parameter");
        }

        Qcow2CreateOptions options;
        try
        {
            options = Qcow2CreateOptionParser.Parse(kv, size.Value);
            options.Validate();
        }
        catch (ArgumentException e)
        {
            throw new UsageException($"{image}: {e.Message}");
        }

        if (!quiet)
        {
            Console.WriteLine($"Formatting '{image}', {Qcow2CreateOptionParser.Describe(options, kv)}");
        }

        // The backing file is read through the new image: never overwrite it with the image itself (same inode,
        // however named; qemu-img refuses the same file name).
        var protect = new ProtectedFiles();
        if (backing is not null)
        {
            protect.Add(ImagePath.Resolve(image, backing), "its own backing file");
        }

        try
        {
            Qcow2Creator.Create(image, options, protect);
        }
        catch (ArgumentException e)
        {
            throw new UsageException(e.Message);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException && e is not Qcow2Exception)
        {
            throw new UsageException($"{image}: {e.Message}");
        }

        return 0;
    }

    private static int CreateRaw(string image, KeyValueOptions kv, long? size, bool quiet)
    {
        foreach (string key in kv.Keys)
        {
            if (key != "size")
            {
                throw new UsageException($"{image}: Invalid parameter '{key}' for format raw");
            }
        }

        if (size is null)
        {
            throw new UsageException($"{image}: Image creation needs a size parameter");
        }

        if (!quiet)
        {
            Console.WriteLine(FormattableString.Invariant($"Formatting '{image}', fmt=raw size={size}"));
        }

        try
        {
            // Locked before it is truncated: a raw image in use (a mount of it included) is refused intact.
            using var file = FileBlockDevice.OpenTarget(image, protect: null, "the image to create");
            file.SetLength(0);
            file.SetLength(size.Value);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException && e is not Qcow2Exception)
        {
            throw new UsageException($"{image}: {e.Message}");
        }

        return 0;
    }
}
