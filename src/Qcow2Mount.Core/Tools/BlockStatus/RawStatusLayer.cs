using Microsoft.Win32.SafeHandles;

namespace Qcow2Mount.Core.Tools.BlockStatus;

/// <summary>A raw image (QEMU's raw format over file-posix): the host file's data and holes, all of it allocated.</summary>
internal sealed class RawStatusLayer : StatusLayer
{
    private readonly SafeFileHandle _handle;

    public RawStatusLayer(string path)
    {
        _handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        Identity = "raw:" + RealPath(path);
    }

    public override string Identity { get; }

    public override long Length => HostFileStatus.SectorAligned(RandomAccess.GetLength(_handle));

    public override bool SupportsBacking => false;

    public override (QemuStatus Flags, long Length) DriverStatus(long offset, long bytes)
    {
        var (flags, n) = HostFileStatus.Get(_handle, offset, bytes);
        return (flags & ~QemuStatus.Eof, n);
    }

    public override void Dispose() => _handle.Dispose();
}
