using Qcow2Mount.Cli.Options;
using Qcow2Mount.Core;
using Qcow2Mount.Core.Tools;

namespace Qcow2Mount.Cli;

/// <summary><c>qcow2mount resize</c>: change the virtual size of an image, like qemu-img resize.</summary>
internal sealed class ResizeCommand : ICommand
{
    public const string Help = """
        usage: qcow2mount resize [-f qcow2|raw] [--shrink] [-q] IMAGE [+|-]SIZE

        Sets the virtual size of IMAGE to SIZE, or grows (+SIZE) or shrinks (-SIZE) it by that much.
        SIZE is in bytes or with a k, M, G, T, P or E suffix; qcow2 sizes are multiples of 512.
        Growing never exposes old data: the new area reads as zeros, even over a longer backing file.
        Shrinking deletes all data beyond the new end and needs --shrink.

        Options:
          -f FMT        image format: qcow2 or raw (default: probe, as QEMU;
                        a *.qcow2 without the qcow2 magic is then refused)
          --shrink      allow the image to become smaller
          -q            quiet
          -h, --help    show this help

        A version 2 image (compat=0.10) with internal snapshots cannot be resized, as with qemu-img.

        Exit status: 0 resized, 1 bad arguments, 2 the image cannot be resized or read.
        """;

    private static readonly Dictionary<string, bool> Spec = new()
    {
        ["-f"] = true, ["--shrink"] = false, ["-q"] = false, ["-h"] = false, ["--help"] = false,
    };

    public string Name => "resize";

    public string Summary => "grow or shrink an image (like qemu-img resize)";

    public int Run(string[] args)
    {
        var a = ArgumentReader.Parse(Name, args, Spec);
        if (a.PrintedHelp(Help))
        {
            return 0;
        }

        if (a.Positionals.Count != 2)
        {
            throw new UsageException(a.Positionals.Count < 2 ? "resize: expecting an image file name and a size" : $"resize: unexpected argument '{a.Positionals[2]}'");
        }

        string image = a.Positionals[0];
        string sizeText = a.Positionals[1];
        ArgumentReader.ExistingFile(image);

        string format = DiskImage.ResolveFormat(image, a.Last("-f"));
        int sign = sizeText.StartsWith('+') ? 1 : sizeText.StartsWith('-') ? -1 : 0;
        long amount = SizeParser.Parse(sign != 0 ? sizeText[1..] : sizeText);
        long current = format == "qcow2" ? ImageInfo.Read(image, "qcow2").VirtualSize : new FileInfo(image).Length;
        long newSize = sign == 0 ? amount : current + (sign * amount);
        bool quiet = a.Has("-q");
        if (newSize < current && a.Has("--shrink") && !quiet)
        {
            Console.Error.WriteLine("qcow2mount: warning: Shrinking an image will delete all data beyond the shrunken image's end. Before performing such an operation, make sure there is no important data there.");
        }

        try
        {
            ImageResizer.Resize(image, newSize, a.Has("--shrink"), format);
        }
        catch (ArgumentException e)
        {
            throw new UsageException(e.Message);
        }

        if (!quiet)
        {
            Console.WriteLine("Image resized.");
        }

        return 0;
    }
}
