using Qcow2Mount.Core;
using Qcow2Mount.Core.Qcow2;
using Qcow2Mount.Core.Vfs;

namespace Qcow2Mount.Cli;

/// <summary>
/// The images of one mount, opened and locked: the engine takes QEMU-compatible locks (writer on a read-write image,
/// reader on read-only images and every backing layer) before it reads anything, so a writable open never touches a
/// file someone else uses. <see cref="Close"/> flushes every disk, then closes it (which releases its locks).
/// </summary>
internal sealed class MountedImages : IDisposable
{
    private MountedImages()
    {
    }

    public ImageDirectory Directory { get; } = new();

    public BackingLayerPool BackingLayers { get; } = new();

    public static MountedImages Open(MountRequest request)
    {
        var images = new MountedImages();
        try
        {
            // One pool for the whole mount: overlays of one base share a single read-only open of it.
            var options = request.ImageOptions with { BackingLayers = images.BackingLayers };
            foreach (string path in request.Images)
            {
                images.Directory.Add(path, DiskImage.Open(path, request.Format, options));
            }

            return images;
        }
        catch
        {
            images.Dispose();
            throw;
        }
    }

    /// <summary>Flushes and closes every disk (releasing its locks). Returns false (after logging) if a flush failed.</summary>
    public bool Close(Action<string> log)
    {
        bool ok = true;
        foreach (var file in Directory.Files)
        {
            try
            {
                if (!file.Disk.IsReadOnly)
                {
                    file.Disk.Flush();
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                log($"{file.SourcePath}: flush on unmount failed: {e.Message}");
                ok = false;
            }
        }

        Dispose();
        return ok;
    }

    public void Dispose()
    {
        Directory.Dispose();
    }
}
