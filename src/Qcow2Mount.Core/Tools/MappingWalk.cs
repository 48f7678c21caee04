namespace Qcow2Mount.Core.Tools;

/// <summary>
/// Walks the block status of a whole disk (and so every L2 entry of its chain a copy will meet) before a tool writes
/// anything: a hostile or corrupt entry anywhere in the chain then fails the tool with every file unchanged, instead
/// of in the middle of its copy.
/// </summary>
internal static class MappingWalk
{
    public static void Check(IVirtualDisk disk, CancellationToken cancellation)
    {
        for (long pos = 0; pos < disk.Length;)
        {
            cancellation.ThrowIfCancellationRequested();
            pos += disk.GetBlockStatus(pos, disk.Length - pos).Length;
        }
    }
}
