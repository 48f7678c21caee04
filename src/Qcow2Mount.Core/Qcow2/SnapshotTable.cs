using System.Buffers.Binary;
using Qcow2Mount.Core.Errors;
using Qcow2Mount.Core.Qcow2.Format;
using Qcow2Mount.Core.Storage;

namespace Qcow2Mount.Core.Qcow2;

/// <summary>
/// Reads the snapshot table (spec §10): entries padded to 8 bytes between each other, the last one unpadded.
/// The table is walked entry by entry (40-byte fixed parts first) to learn its length without trusting it, within
/// the file and <see cref="MaxBytes"/>, then read and parsed in one piece.
/// </summary>
internal static class SnapshotTable
{
    /// <summary>Largest snapshot table accepted: far beyond what QEMU writes, small enough to read at once.</summary>
    public const long MaxBytes = 64L << 20;

    /// <summary>The entries and the table's length in bytes (what its clusters' refcounts cover).</summary>
    public static (List<SnapshotTableEntry> Entries, long Length) Read(IBlockDevice file, Qcow2Header header)
    {
        uint count = header.SnapshotCount;
        if (count == 0)
        {
            return ([], 0);
        }

        long start = header.SnapshotsOffset;
        long limit = Math.Min(file.Length - start, MaxBytes);
        Span<byte> fixedPart = stackalloc byte[SnapshotTableEntry.FixedLength];
        long pos = 0;
        long length = 0;
        for (uint i = 0; i < count; i++)
        {
            if (pos + SnapshotTableEntry.FixedLength > limit)
            {
                throw Truncated(file, start, count, i, limit);
            }

            file.Read(start + pos, fixedPart);
            long idLength = BinaryPrimitives.ReadUInt16BigEndian(fixedPart[12..]);
            long nameLength = BinaryPrimitives.ReadUInt16BigEndian(fixedPart[14..]);
            long extraLength = BinaryPrimitives.ReadUInt32BigEndian(fixedPart[36..]);
            if (extraLength > SnapshotTableEntry.MaxExtraData)
            {
                throw new ImageFormatException($"{file.Name}: snapshot {i} extra_data_size {extraLength} exceeds {SnapshotTableEntry.MaxExtraData}");
            }

            length = pos + SnapshotTableEntry.FixedLength + extraLength + idLength + nameLength;
            if (length > limit)
            {
                throw Truncated(file, start, count, i, limit);
            }

            pos = (length + 7) & ~7L;
        }

        var table = new byte[length];
        file.Read(start, table);
        return (SnapshotTableEntry.ParseTable(table, count, file.Name), length);
    }

    private static ImageFormatException Truncated(IBlockDevice file, long start, uint count, uint index, long limit) =>
        new($"{file.Name}: snapshot table at 0x{start:x} (nb_snapshots {count}) is truncated at entry {index}: it would pass "
            + (limit < MaxBytes ? "the end of the file" : $"the {MaxBytes >> 20} MiB limit"));
}
