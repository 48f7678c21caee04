namespace Qcow2Mount.WinFsp;

/// <summary>One Open of the volume (WinFsp's per-open FileContext): the root directory (<see cref="File"/> null) or a raw file.</summary>
internal sealed class OpenFile
{
    private int _written;

    public OpenFile(VolumeFile? file) => File = file;

    public VolumeFile? File { get; }

    public bool IsDirectory => File is null;

    /// <summary>True once a write through this open succeeded: its Cleanup then flushes the disk.</summary>
    public bool Written => Volatile.Read(ref _written) != 0;

    public void MarkWritten() => Volatile.Write(ref _written, 1);
}
