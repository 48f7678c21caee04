using Qcow2Mount.Core.Errors;
using Qcow2Mount.Core.Storage;
using Qcow2Mount.Core.Qcow2.Metadata;

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

    /// <summary>
    /// The chain being opened: <see cref="Visited"/> holds the real paths of the files opened under this context,
    /// <see cref="Ancestors"/> those of the images above it (a layer is opened with a context of its own, so that a
    /// pool can record exactly its chain); a path in either is a loop.
    /// </summary>
    internal sealed class Context(ImageOpenOptions options, IReadOnlySet<string>? ancestors = null, int depth = 0)
    {
        public ImageOpenOptions Options { get; } = options;

        public HashSet<string> Visited { get; } = new(StringComparer.Ordinal);

        public IReadOnlySet<string> Ancestors { get; } = ancestors ?? new HashSet<string>(StringComparer.Ordinal);

        public int Depth { get; set; } = depth;

        public bool Reaches(string real) => Visited.Contains(real) || Ancestors.Contains(real);

        /// <summary>Records <paramref name="real"/> as opened; false when the chain already reaches it (a loop).</summary>
        public bool Enter(string real) => !Ancestors.Contains(real) && Visited.Add(real);
    }

    public static Qcow2Image OpenQcow2(string path, ImageOpenOptions options, Context context)
    {
        string real = RealPath(path);
        if (!context.Enter(real))
        {
            throw new BackingChainException($"{path}: backing chain loops back to this file");
        }

        var file = FileBlockDevice.Open(path, options.ReadOnly, options.Lock);
        IVirtualDisk? backing = null;
        IDisposable? backingOwner = null;
        FileBlockDevice? dataFile = null;
        try
        {
            var header = HeaderStore.Read(file);
            if (header.BackingFile is { } name && options.FollowBacking)
            {
                (backing, backingOwner) = OpenBacking(path, name, header.BackingFormat, context);
            }

            if (header.HasExternalDataFile)
            {
                string dataName = header.ExternalDataFile
                    ?? throw new ImageFormatException($"{path}: image needs an external data file but names none");
                string dataPath = ResolveDataFile(dataName);
                CheckRegularFile(dataPath, "external data file", allowDevice: context.Options.AllowBackingDevice);
                if (!context.Enter(RealPath(dataPath)))
                {
                    // Guest writes land in the data file at their guest offset: never in an image of this chain.
                    throw new BackingChainException($"{path}: external data file '{dataName}' is the image itself or a file of its backing chain");
                }

                dataFile = FileBlockDevice.Open(dataPath, options.ReadOnly, options.Lock);
            }

            return ImageOpener.Open(file, options, backing, dataFile, backingOwner);
        }
        catch
        {
            backingOwner?.Dispose();
            dataFile?.Dispose();
            file.Dispose();
            throw;
        }
    }

    /// <summary>
    /// A backing layer as opened: the disk, the real paths of every file of its own chain (itself included) and how
    /// many backing levels lie below it. Layers are opened without knowing who refers to them (a pool may hand one to
    /// several images), so each referrer joins the layer's chain to its own: loops and depth are checked on the sum.
    /// </summary>
    internal sealed record OpenedLayer(IVirtualDisk Disk, IReadOnlyCollection<string> ChainPaths, int ChainDepth);

    private static (IVirtualDisk Disk, IDisposable Owner) OpenBacking(string referrer, string name, string? format, Context context)
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

        if (chosen is not ("qcow2" or "raw"))
        {
            throw new BackingChainException($"{referrer}: backing file format '{chosen}' is not supported (qcow2 and raw are)");
        }

        string real = RealPath(path);
        if (context.Reaches(real))
        {
            throw new BackingChainException($"{referrer}: backing chain loops back to {path}");
        }

        var layerOptions = context.Options with { ReadOnly = true, Snapshot = null };
        OpenedLayer layer;
        IDisposable owner;
        if (context.Options.BackingLayers is { } pool)
        {
            var lease = pool.Acquire(real, chosen, () => OpenLayer(path, real, chosen, layerOptions, context));
            (layer, owner) = (lease.Opened, lease);
        }
        else
        {
            layer = OpenLayer(path, real, chosen, layerOptions, context);
            owner = layer.Disk;
        }

        try
        {
            if (layer.ChainPaths.FirstOrDefault(context.Reaches) is { } again)
            {
                throw new BackingChainException($"{referrer}: backing chain loops back to {again}");
            }

            if (context.Depth + layer.ChainDepth > MaxDepth)
            {
                throw new BackingChainException($"{referrer}: backing chain is deeper than {MaxDepth} images");
            }

            context.Visited.UnionWith(layer.ChainPaths);
            context.Depth += layer.ChainDepth;
            return (layer.Disk, owner);
        }
        catch
        {
            owner.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Opens one backing layer (and, for qcow2, its own chain) read-only, with a chain context of its own that still
    /// sees the referrer's chain (loops) and depth (the limit).
    /// </summary>
    private static OpenedLayer OpenLayer(string path, string real, string format, ImageOpenOptions options, Context referrer)
    {
        if (format == "raw")
        {
            return new OpenedLayer(new RawDisk(FileBlockDevice.Open(path, readOnly: true, options.Lock)), [real], 0);
        }

        var above = new HashSet<string>(referrer.Ancestors, StringComparer.Ordinal);
        above.UnionWith(referrer.Visited);
        var own = new Context(options, above, referrer.Depth);
        var disk = OpenQcow2(path, options, own);
        return new OpenedLayer(disk, own.Visited, own.Depth - referrer.Depth);
    }

    /// <summary>Relative names resolve against the directory of the image that names them, by the host's rules.</summary>
    public static string Resolve(string referrer, string name) => Platform.HostPathRules.Current.Resolve(referrer, name);

    /// <summary>
    /// Unlike a backing file name, a relative external data file name is relative to the working directory, not to
    /// the image's directory: qemu-img/qemu-io 7.2 open it that way (and qemu-img create makes it there).
    /// </summary>
    public static string ResolveDataFile(string name) => Path.GetFullPath(name);

    internal static string RealPath(string path)
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
