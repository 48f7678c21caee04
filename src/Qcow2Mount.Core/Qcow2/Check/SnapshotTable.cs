using System.Buffers.Binary;
using Qcow2Mount.Core.Errors;
using Qcow2Mount.Core.Qcow2.Format;
using Qcow2Mount.Core.Storage;

namespace Qcow2Mount.Core.Qcow2.Check;

/// <summary>Reads the snapshot table (spec §10): entries padded to 8 bytes between each other, the last one unpadded.</summary>
internal static class SnapshotTable
{
    /// <summary>The entries and the table's length in bytes (what its clusters' refcounts cover).</summary>
    public static (List<SnapshotTableEntry> Entries, long Length) Read(IBlockDevice file, Qcow2Header header)
    {
        var entries = new List<SnapshotTableEntry>();
        long pos = 0;
        var fixedPart = new byte[SnapshotTableEntry.FixedLength];
        for (uint i = 0; i < header.SnapshotCount; i++)
        {
            pos = (pos + 7) & ~7L;
            long at = header.SnapshotsOffset + pos;
            if (at + fixedPart.Length > file.Length)
            {
                throw new ImageFormatException($"{file.Name}: snapshot table entry {i} at 0x{at:x} lies beyond the end of the file");
            }

            file.Read(at, fixedPart);
            int idLength = BinaryPrimitives.ReadUInt16BigEndian(fixedPart.AsSpan(12));
            int nameLength = BinaryPrimitives.ReadUInt16BigEndian(fixedPart.AsSpan(14));
            uint extra = BinaryPrimitives.ReadUInt32BigEndian(fixedPart.AsSpan(36));
            if (extra > SnapshotTableEntry.MaxExtraData)
            {
                throw new ImageFormatException($"{file.Name}: snapshot {i}: extra data size {extra} exceeds {SnapshotTableEntry.MaxExtraData}");
            }

            var whole = new byte[SnapshotTableEntry.FixedLength + extra + idLength + nameLength];
            file.Read(at, whole);
            var (entry, length) = SnapshotTableEntry.Parse(whole, file.Name);
            entries.Add(entry);
            pos += length;
        }

        return (entries, pos);
    }
}
