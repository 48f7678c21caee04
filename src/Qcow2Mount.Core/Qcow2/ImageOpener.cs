using Qcow2Mount.Core.Errors;
using Qcow2Mount.Core.Qcow2.Check;
using Qcow2Mount.Core.Qcow2.Format;
using Qcow2Mount.Core.Qcow2.Metadata;
using Qcow2Mount.Core.Storage;

namespace Qcow2Mount.Core.Qcow2;

/// <summary>
/// Opening an image held by a device (spec §13, §12): the header is parsed, a dirty image opened read-write gets its
/// refcounts rebuilt first (after its layout validated, so a hostile image fails unchanged), an external data file
/// must be given, the layout is validated (<see cref="ImageLayout"/>), and a writer clears the autoclear bits it
/// does not maintain before anything else changes; a corrupt image opens read-only only.
/// </summary>
internal static class ImageOpener
{
    public static Qcow2Image Open(IBlockDevice file, ImageOpenOptions options, IVirtualDisk? backing, IBlockDevice? dataFile, IDisposable? backingOwner = null)
    {
        if (options.Snapshot is not null && !options.ReadOnly && !file.IsReadOnly)
        {
            throw new ArgumentException($"{file.Name}: a snapshot is opened read-only only", nameof(options));
        }

        var header = HeaderStore.Read(file);
        if (header.IsDirty && !header.IsCorrupt && !options.ReadOnly && !file.IsReadOnly)
        {
            // The rebuild walks the tables the header names: validate their layout first (inside the file, no
            // overlaps, sane sizes) exactly as a read-only open does, so a hostile image fails here, unchanged.
            _ = ImageLayout.Read(file, header);
            header = RepairDirty(file, options);
        }

        if (header.HasExternalDataFile && dataFile is null && header.ExternalDataFile is null)
        {
            throw new ImageFormatException($"{file.Name}: image needs an external data file but names none");
        }

        if (header.HasExternalDataFile && dataFile is null)
        {
            throw new UnsupportedFeatureException($"{file.Name}: external data file '{header.ExternalDataFile}' must be opened by path");
        }

        var image = new Qcow2Image(file, header, ImageLayout.Read(file, header, options.Snapshot), options, backing, dataFile, backingOwner);
        try
        {
            image.PrepareForWriting();
            return image;
        }
        catch
        {
            image.CloseFiles();
            throw;
        }
    }

    /// <summary>
    /// A dirty image (refcounts may be stale: a lazy-refcounts writer did not close cleanly) is opened read-write only
    /// after its refcounts are rebuilt from the L1/L2 tables, as QEMU does; the rebuild clears the dirty bit.
    /// Read-only opens use the image as it is.
    /// </summary>
    private static Qcow2Header RepairDirty(IBlockDevice file, ImageOpenOptions options)
    {
        var result = RefcountRebuilder.Rebuild(file);
        if (!result.IsClean)
        {
            throw new ImageFormatException($"{file.Name}: could not repair dirty image: {result.RemainingCorruptions} corruptions and {result.RemainingLeaks} leaks remain after rebuilding the refcounts; repair it with 'qemu-img check -r all' or open it read-only");
        }

        var repaired = HeaderStore.Read(file);
        if (repaired.IsDirty)
        {
            throw new ImageFormatException($"{file.Name}: could not repair dirty image: the dirty bit is still set after rebuilding the refcounts");
        }

        options.Log?.Invoke($"{file.Name}: repaired refcounts of dirty image ({result.LeaksFixed} leaked and {result.CorruptionsFixed} missing references fixed)");
        return repaired;
    }
}
