using System.Buffers.Binary;

namespace Qcow2Mount.Core.Qcow2.Format;

/// <summary>
/// Refcount block entry codec for every refcount_order 0..6 (spec §6): widths ≥ 8 bits are big-endian integers;
/// sub-byte entries are packed from the least-significant bit of each byte.
/// </summary>
public static class RefcountBlock
{
    public static ulong Get(ReadOnlySpan<byte> block, int index, int refcountOrder)
    {
        switch (refcountOrder)
        {
            case 0:
            case 1:
            case 2:
                var (at, shift, mask) = SubByte(index, refcountOrder);
                return (ulong)((block[at] & mask) >> shift);
            case 3:
                return block[index];
            case 4:
                return BinaryPrimitives.ReadUInt16BigEndian(block[(index * 2)..]);
            case 5:
                return BinaryPrimitives.ReadUInt32BigEndian(block[(index * 4)..]);
            case 6:
                return BinaryPrimitives.ReadUInt64BigEndian(block[(index * 8)..]);
            default:
                throw new ArgumentOutOfRangeException(nameof(refcountOrder));
        }
    }

    public static void Set(Span<byte> block, int index, int refcountOrder, ulong value)
    {
        switch (refcountOrder)
        {
            case 0:
            case 1:
            case 2:
                var (at, shift, mask) = SubByte(index, refcountOrder);
                ref byte b = ref block[at];
                b = (byte)((b & ~mask) | (((int)value << shift) & mask));
                break;
            case 3:
                block[index] = (byte)value;
                break;
            case 4:
                BinaryPrimitives.WriteUInt16BigEndian(block[(index * 2)..], (ushort)value);
                break;
            case 5:
                BinaryPrimitives.WriteUInt32BigEndian(block[(index * 4)..], (uint)value);
                break;
            case 6:
                BinaryPrimitives.WriteUInt64BigEndian(block[(index * 8)..], value);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(refcountOrder));
        }
    }

    /// <summary>Where a 1-, 2- or 4-bit entry lives: its byte, its shift within the byte (from the least-significant bit), its mask there.</summary>
    private static (int Byte, int Shift, int Mask) SubByte(int index, int refcountOrder)
    {
        int bits = 1 << refcountOrder;
        int perByte = 8 / bits;
        int shift = (index % perByte) * bits;
        return (index / perByte, shift, ((1 << bits) - 1) << shift);
    }
}
