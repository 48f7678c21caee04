using Qcow2Mount.Core.Errors;
using Qcow2Mount.Core.Storage;

namespace Qcow2Mount.Core.Qcow2;

/// <summary>
/// Opens an image with its backing chain (the gate that decides which files an image may open): relative names
/// resolve against the naming image's directory; backing_fmt is obeyed, else qcow2 vs raw is probed; loops, chains
/// deeper than <see cref="MaxDepth"/>, missing files and non-regular files (unless allowed) fail the open.
/// Backing layers are always read-only.
/// </summary>
internal static class BackingChain
{
    public const int MaxDepth = 64;

    internal sealed class Context(ImageOpenOptions options)
    {
        public ImageOpenOptions Options { get; } = options;

        public HashSet<string> Visited { get; } = new(StringComparer.Ordinal);

        public int Depth { get; set; }
    }

    public static Qcow2Image OpenQcow2(string path, ImageOpenOptions options, Context context)
    {
        string real = RealPath(path);
        if (!context.Visited.Add(real))
        {
            throw new BackingChainException($"{path}: backing chain loops back to this file");
        }

        var file = FileBlockDevice.Open(path, options.ReadOnly, options.Lock);
        IVirtualDisk? backing = null;
        FileBlockDevice? dataFile = null;
        try
        {
            var header = Qcow2Image.ReadHeader(file);
            if (header.BackingFile is { } name && options.FollowBacking)
            {
                backing = OpenBacking(path, name, header.BackingFormat, context);
            }

            if (header.HasExternalDataFile)
            {
                string dataName = header.ExternalDataFile
                    ?? throw new ImageFormatException($"{path}: image needs an external data file but names none");
                string dataPath = Resolve(path, dataName);
                CheckRegularFile(dataPath, "external data file", allowDevice: context.Options.AllowBackingDevice);
                if (!context.Visited.Add(RealPath(dataPath)))
                {
                    // Guest writes land in the data file at their guest offset: never in an image of this chain.
                    throw new BackingChainException($"{path}: external data file '{dataName}' is the image itself or a file of its backing chain");
                }

                dataFile = FileBlockDevice.Open(dataPath, options.ReadOnly, options.Lock);
            }

            return Qcow2Image.OpenDevice(file, options, backing, dataFile);
        }
        catch
        {
            backing?.Dispose();
            dataFile?.Dispose();
            file.Dispose();
            throw;
        }
    }

    private static IVirtualDisk OpenBacking(string referrer, string name, string? format, Context context)
    {
        if (++context.Depth > MaxDepth)
        {
            throw new BackingChainException($"{referrer}: backing chain is deeper than {MaxDepth} images");
        }

        if (name.Length == 0)
        {
            throw new BackingChainException($"{referrer}: backing file name is empty");
        }

        string path = Resolve(referrer, name);
        if (!File.Exists(path) && !Directory.Exists(path) && !IsSpecial(path))
        {
            throw new BackingChainException($"{referrer}: backing file '{name}' does not exist (looked for {path})");
        }

        CheckRegularFile(path, "backing file", context.Options.AllowBackingDevice);
        string chosen = format ?? DiskImage.ProbeFormat(path);
        if (format is null)
        {
            context.Options.Log?.Invoke($"{referrer}: backing file '{name}' has no backing_fmt; probed as {chosen}");
        }

        var layerOptions = context.Options with { ReadOnly = true };
        switch (chosen)
        {
            case "qcow2":
                return OpenQcow2(path, layerOptions, context);
            case "raw":
                string real = RealPath(path);
                if (!context.Visited.Add(real))
                {
                    throw new BackingChainException($"{referrer}: backing chain loops back to {path}");
                }

                return new RawDisk(FileBlockDevice.Open(path, readOnly: true, context.Options.Lock));
            default:
                throw new BackingChainException($"{referrer}: backing file format '{chosen}' is not supported (qcow2 and raw are)");
        }
    }

    /// <summary>Relative names resolve against the directory of the image that names them.</summary>
    public static string Resolve(string referrer, string name)
    {
        if (Path.IsPathRooted(name))
        {
            return name;
        }

        string dir = Path.GetDirectoryName(Path.GetFullPath(referrer)) ?? ".";
        return Path.GetFullPath(Path.Combine(dir, name));
    }

    private static string RealPath(string path)
    {
        var info = new FileInfo(Path.GetFullPath(path));
        var target = info.LinkTarget is null ? null : info.ResolveLinkTarget(returnFinalTarget: true);
        return target?.FullName ?? info.FullName;
    }

    private static bool IsSpecial(string path) => FileKind.Of(path) != FileKind.Kind.Missing;

    /// <summary>
    /// A hostile image can name any path: refuse directories, FIFOs and sockets, and unless allowed devices and
    /// files on kernel pseudo file systems (/proc, /sys: they look regular but are kernel state).
    /// </summary>
    private static void CheckRegularFile(string path, string what, bool allowDevice)
    {
        if (Directory.Exists(path))
        {
            throw new BackingChainException($"{path}: {what} is a directory, not a regular file");
        }

        var kind = FileKind.Of(path);
        if (kind == FileKind.Kind.Regular)
        {
            if (!allowDevice && FileKind.PseudoFileSystemOf(path) is { } fs)
            {
                throw new BackingChainException($"{path}: {what} is on {fs}, a kernel pseudo file system (use --allow-backing-device to allow it)");
            }

            return;
        }

        if (kind is FileKind.Kind.BlockDevice or FileKind.Kind.CharacterDevice && allowDevice)
        {
            return;
        }

        string hint = kind is FileKind.Kind.BlockDevice or FileKind.Kind.CharacterDevice ? " (use --allow-backing-device to allow devices)" : "";
        throw new BackingChainException($"{path}: {what} is a {FileKind.Describe(kind)}, not a regular file{hint}");
    }
}
