using Microsoft.Win32.SafeHandles;
using Qcow2Mount.Core;
using Qcow2Mount.Core.Storage;
using Qcow2Mount.Core.Vfs;

namespace Qcow2Mount.Cli;

/// <summary>
/// The images of one mount, opened and locked. Each image gets a QEMU-compatible lock (reader or writer) on its own
/// handle before the engine opens it, so a writable open never touches a file someone else uses.
/// <see cref="Close"/> flushes every disk before closing it, then drops the locks (in that order: the locks must
/// outlive the last write).
/// </summary>
internal sealed class MountedImages : IDisposable
{
    private readonly List<(SafeFileHandle Handle, ImageFileLock Lock)> _locks = [];

    private MountedImages()
    {
    }

    public ImageDirectory Directory { get; } = new();

    public static MountedImages Open(MountRequest request)
    {
        var images = new MountedImages();
        try
        {
            foreach (string path in request.Images)
            {
                var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
                try
                {
                    images._locks.Add((handle, ImageFileLock.Acquire(handle, path, write: !request.ReadOnly)));
                }
                catch
                {
                    handle.Dispose();
                    throw;
                }

                images.Directory.Add(path, DiskImage.Open(path, request.ImageOptions));
            }

            return images;
        }
        catch
        {
            images.Dispose();
            throw;
        }
    }

    /// <summary>Flushes and closes every disk, then releases the locks. Returns false (after logging) if a flush failed.</summary>
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
        foreach (var (handle, imageLock) in _locks)
        {
            imageLock.Dispose();
            handle.Dispose();
        }

        _locks.Clear();
    }
}
