using Qcow2Mount.Core.Qcow2;
using Qcow2Mount.Core.Storage;

namespace Qcow2Mount.Core.Tools;

/// <summary>
/// qemu-img resize for qcow2 and raw images. After a qcow2 grows, bytes that were never part of the disk must
/// read as zeros: the range a longer backing file would now show through is zeroed (qemu-behaviour.md §5, last
/// bullet), and so is the rest of the old last cluster unless all of it reads as zeros (a shrink by this engine
/// zeroes it; QEMU's leaves the bytes, and its grow zeroes only an allocated run at the old end).
/// </summary>
public static class ImageResizer
{
    /// <summary>Resizes <paramref name="path"/> to <paramref name="newSize"/> bytes; shrinking needs <paramref name="allowShrink"/>.</summary>
    public static void Resize(string path, long newSize, bool allowShrink, string? format = null)
    {
        format = DiskImage.ResolveFormat(path, format);
        if (newSize <= 0)
        {
            throw new ArgumentException("New image size must be positive");
        }

        if (format == "raw")
        {
            using var raw = FileBlockDevice.Open(path, readOnly: false, lockImage: true);
            if (newSize < raw.Length && !allowShrink)
            {
                throw new ArgumentException("Use the --shrink option to perform a shrink operation.");
            }

            raw.SetLength(newSize);
            raw.Flush();
            return;
        }

        ResizeQcow2(() => Qcow2Image.Open(path, new ImageOpenOptions()), newSize, allowShrink);
    }

    /// <summary>The qcow2 resize on images that <paramref name="open"/> opens read-write (twice when growing).</summary>
    internal static void ResizeQcow2(Func<Qcow2Image> open, long newSize, bool allowShrink)
    {
        if (newSize % 512 != 0)
        {
            throw new ArgumentException("The new size must be a multiple of 512");
        }

        long oldSize;
        using (var image = open())
        {
            oldSize = image.Length;
            if (newSize < oldSize && !allowShrink)
            {
                throw new ArgumentException("Use the --shrink option to perform a shrink operation.");
            }

            if (newSize == oldSize)
            {
                return;
            }

            image.Resize(newSize);
        }

        if (newSize <= oldSize)
        {
            return;
        }

        using (var image = open())
        {
            long clusterEnd = Math.Min(newSize, image.Geometry.NextClusterStart(new Core.Qcow2.Format.GuestOffset(oldSize - 1)).Value);
            long zeroEnd = oldSize;
            if (!ReadsAsZeros(image, oldSize, clusterEnd))
            {
                // Bytes past the old end in its last cluster (an image another program shrank): never part of the disk.
                zeroEnd = clusterEnd;
            }

            if (image.Header.BackingFile is not null && image.BackingLength is { } backingLength && backingLength > oldSize)
            {
                zeroEnd = Math.Max(zeroEnd, Math.Min(newSize, backingLength));
            }

            if (zeroEnd > oldSize)
            {
                image.WriteZeroes(oldSize, zeroEnd - oldSize, mayUnmap: false);
            }

            image.Flush();
        }
    }

    /// <summary>True when every run of [<paramref name="from"/>, <paramref name="to"/>) is known to read as zeros.</summary>
    private static bool ReadsAsZeros(Qcow2Image image, long from, long to)
    {
        for (long pos = from; pos < to;)
        {
            var status = image.GetBlockStatus(pos, to - pos);
            if ((status.Flags & BlockStatusFlags.Zero) == 0 || status.Length <= 0)
            {
                return false;
            }

            pos += status.Length;
        }

        return true;
    }
}
