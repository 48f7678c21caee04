using Qcow2Mount.Core.Vfs;

namespace Qcow2Mount.WinFsp;

/// <summary>One Open of the volume (WinFsp's per-open FileContext): the root directory or a raw file.</summary>
internal sealed class OpenFile
{
    private int _written;

    public OpenFile(VfsNode node) => Node = node;

    public VfsNode Node { get; }

    /// <summary>The raw file opened, or null for the root.</summary>
    public RawFile? File => Node as RawFile;

    /// <summary>True once a write through this open succeeded: its Cleanup then flushes the disk.</summary>
    public bool Written => Volatile.Read(ref _written) != 0;

    public void MarkWritten() => Volatile.Write(ref _written, 1);
}
