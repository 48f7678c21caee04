namespace Qcow2Mount.Core.Tools.Advise;

/// <summary>
/// A file system found inside the guest disk: its type ("ext4", "xfs", "ntfs", "fat32", …), its allocation unit
/// (block or cluster size), the guest offset where it starts, and where that offset came from ("whole disk",
/// "MBR partition 1", "GPT partition 1").
/// </summary>
public sealed record GuestFileSystem(string Type, int BlockSize, long Offset, string Location);
