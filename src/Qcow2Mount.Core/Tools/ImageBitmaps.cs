using Qcow2Mount.Core.Errors;
using Qcow2Mount.Core.Qcow2;
using Qcow2Mount.Core.Qcow2.Bitmaps;

namespace Qcow2Mount.Core.Tools;

/// <summary>One step of qemu-img bitmap on a bitmap: add, remove, clear, enable, disable, merge (another bitmap into it).</summary>
public enum BitmapStep
{
    Add,
    Remove,
    Clear,
    Enable,
    Disable,
    Merge,
}

/// <summary>
/// qemu-img bitmap on a qcow2 file: the steps are applied in order to one read-write open (the write lock, so a
/// mounted image or one QEMU holds is refused) and stored at close; a step that fails stops the rest, the steps
/// before it are kept, as qemu-img does.
/// </summary>
public static class ImageBitmaps
{
    /// <summary>
    /// Applies <paramref name="steps"/> to bitmap <paramref name="name"/>; <paramref name="granularity"/> (bytes, 0 =
    /// default) is for Add, a step's source the bitmap Merge reads (in the same image).
    /// </summary>
    public static void Apply(string path, string name, IReadOnlyList<(BitmapStep Step, string? Source)> steps, long granularity)
    {
        using var image = Qcow2Image.Open(path, new ImageOpenOptions { FollowBacking = false, CacheCleanIntervalSeconds = 0 });
        foreach (var (step, source) in steps)
        {
            try
            {
                image.EditBitmaps(b => Run(b, image, step, source, name, granularity));
            }
            catch (BitmapOperationException e)
            {
                throw new BitmapOperationException($"Operation {step.ToString().ToLowerInvariant()} on bitmap {name} failed: {e.Message}");
            }
        }
    }

    private static void Run(PersistentBitmaps bitmaps, Qcow2Image image, BitmapStep step, string? source, string name, long granularity)
    {
        switch (step)
        {
            case BitmapStep.Add:
                bitmaps.Add(name, GranularityBits(granularity, image.Geometry.ClusterBits));
                break;
            case BitmapStep.Remove:
                bitmaps.Remove(name);
                break;
            case BitmapStep.Clear:
                bitmaps.Clear(name);
                break;
            case BitmapStep.Enable:
                bitmaps.SetEnabled(name, enabled: true);
                break;
            case BitmapStep.Disable:
                bitmaps.SetEnabled(name, enabled: false);
                break;
            case BitmapStep.Merge:
                bitmaps.Merge(source!, name);
                break;
        }
    }

    /// <summary>qemu-img's rule: 0 = the default (cluster size within 4–64 KiB), else a power of 2 from 512 to 2 GiB.</summary>
    private static int GranularityBits(long granularity, int clusterBits)
    {
        if (granularity == 0)
        {
            return BitmapGeometry.DefaultGranularityBits(clusterBits);
        }

        if (granularity < 512 || granularity > (1L << BitmapGeometry.MaxGranularityBits) || (granularity & (granularity - 1)) != 0)
        {
            throw new BitmapOperationException("Granularity must be power of 2 and at least 512");
        }

        return System.Numerics.BitOperations.Log2((ulong)granularity);
    }
}
