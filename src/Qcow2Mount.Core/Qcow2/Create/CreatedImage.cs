using Qcow2Mount.Core.Storage;

namespace Qcow2Mount.Core.Qcow2.Create;

/// <summary>The files of a freshly created image, still open and holding QEMU's writer lock until disposed.</summary>
internal sealed record CreatedImage(FileBlockDevice File, FileBlockDevice? DataFile) : IDisposable
{
    public void Dispose()
    {
        DataFile?.Dispose();
        File.Dispose();
    }
}
