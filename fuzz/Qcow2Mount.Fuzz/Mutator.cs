using System.Buffers.Binary;

namespace Qcow2Mount.Fuzz;

/// <summary>
/// Structure-aware mutations of qcow2 images. Besides byte and bit flips it finds the integer fields of the
/// header, extensions, L1, L2 and refcount tables and the snapshot table in the (possibly already mutated) input
/// and sets them to values that matter there: 0, all ones, the sign bit, offsets of other structures, unaligned
/// and past-the-end offsets, reserved bits, compressed/COPIED flags, contradictory subcluster bitmaps.
/// </summary>
public sealed class Mutator(Random rng)
{
    private static readonly (int Offset, int Size)[] HeaderFields =
    [
        (4, 4), (8, 8), (16, 4), (20, 4), (24, 8), (32, 4), (36, 4), (40, 8), (48, 8), (56, 4), (60, 4), (64, 8),
        (72, 8), (80, 8), (88, 8), (96, 4), (100, 4), (104, 1),
    ];

    public byte[] Mutate(byte[] parent, IReadOnlyList<byte[]> corpus)
    {
        var data = (byte[])parent.Clone();
        int count = 1 + rng.Next(4);
        for (int i = 0; i < count; i++)
        {
            data = rng.Next(20) switch
            {
                0 or 1 => SetBytes(data),
                2 or 3 => FlipBit(data),
                >= 4 and <= 10 => SetField(data),
                11 or 12 => NudgeField(data),
                13 or 14 => CopyField(data),
                15 => Resize(data),
                16 => Splice(data, corpus),
                17 => FillRegion(data),
                _ => SetHeaderField(data),
            };
        }

        return data;
    }

    /// <summary>Integer fields worth mutating, found by walking the structures the header points at.</summary>
    public static List<(int Offset, int Size)> Fields(byte[] d)
    {
        var fields = new List<(int Offset, int Size)>();
        if (d.Length < 72)
        {
            return fields;
        }

        fields.AddRange(HeaderFields.Where(f => f.Offset + f.Size <= d.Length));
        uint clusterBits = BinaryPrimitives.ReadUInt32BigEndian(d.AsSpan(20));
        uint version = BinaryPrimitives.ReadUInt32BigEndian(d.AsSpan(4));
        if (clusterBits is < 9 or > 21)
        {
            return fields;
        }

        int cluster = 1 << (int)clusterBits;
        bool extended = version >= 3 && d.Length >= 80 && (d[79] & 0x10) != 0;

        // Header extensions: type and length of each.
        int pos = version >= 3 && d.Length >= 104 ? (int)Math.Min(BinaryPrimitives.ReadUInt32BigEndian(d.AsSpan(100)), (uint)cluster) : 72;
        pos = (pos + 7) & ~7;
        for (int i = 0; i < 16 && pos + 8 <= Math.Min(d.Length, cluster); i++)
        {
            fields.Add((pos, 4));
            fields.Add((pos + 4, 4));
            uint type = BinaryPrimitives.ReadUInt32BigEndian(d.AsSpan(pos));
            uint length = BinaryPrimitives.ReadUInt32BigEndian(d.AsSpan(pos + 4));
            if (type == 0 || length > (uint)cluster)
            {
                break;
            }

            pos += 8 + (int)((length + 7) & ~7u);
        }

        long l1 = (long)BinaryPrimitives.ReadUInt64BigEndian(d.AsSpan(40));
        uint l1Size = BinaryPrimitives.ReadUInt32BigEndian(d.AsSpan(36));
        var l2Tables = new List<long>();
        for (int i = 0; i < Math.Min(l1Size, 64u); i++)
        {
            long at = l1 + (i * 8L);
            if (!Inside(d, at, 8))
            {
                break;
            }

            fields.Add(((int)at, 8));
            long l2 = (long)(BinaryPrimitives.ReadUInt64BigEndian(d.AsSpan((int)at)) & 0x00FFFFFFFFFFFE00UL);
            if (l2 != 0 && Inside(d, l2, cluster) && l2Tables.Count < 4)
            {
                l2Tables.Add(l2);
            }
        }

        int entry = extended ? 16 : 8;
        foreach (long l2 in l2Tables)
        {
            for (int i = 0; i < Math.Min(64, cluster / entry); i++)
            {
                fields.Add(((int)(l2 + (i * entry)), 8));
                if (extended)
                {
                    fields.Add(((int)(l2 + (i * entry) + 8), 8));
                }
            }
        }

        long reftable = (long)BinaryPrimitives.ReadUInt64BigEndian(d.AsSpan(48));
        for (int i = 0; i < 16 && Inside(d, reftable + (i * 8L), 8); i++)
        {
            fields.Add(((int)(reftable + (i * 8L)), 8));
            long block = (long)(BinaryPrimitives.ReadUInt64BigEndian(d.AsSpan((int)(reftable + (i * 8L)))) & ~0x1FFUL);
            if (i == 0 && block > 0 && Inside(d, block, 64))
            {
                for (int j = 0; j < 8; j++)
                {
                    fields.Add(((int)block + (j * 8), 8));
                }
            }
        }

        long snapshots = (long)BinaryPrimitives.ReadUInt64BigEndian(d.AsSpan(64));
        if (Inside(d, snapshots, 40))
        {
            fields.AddRange([((int)snapshots, 8), ((int)snapshots + 8, 4), ((int)snapshots + 12, 2), ((int)snapshots + 14, 2), ((int)snapshots + 36, 4)]);
        }

        return fields;
    }

    private static bool Inside(byte[] d, long offset, int length) => offset > 0 && offset <= d.Length - length;

    private byte[] SetBytes(byte[] d)
    {
        if (d.Length == 0)
        {
            return d;
        }

        // Most structure lives in the first clusters.
        int limit = rng.Next(2) == 0 ? Math.Min(d.Length, 4096) : d.Length;
        int at = rng.Next(limit);
        int n = Math.Min(1 + rng.Next(8), d.Length - at);
        for (int i = 0; i < n; i++)
        {
            d[at + i] = rng.Next(3) switch { 0 => 0, 1 => 0xFF, _ => (byte)rng.Next(256) };
        }

        return d;
    }

    private byte[] FlipBit(byte[] d)
    {
        if (d.Length > 0)
        {
            int limit = rng.Next(2) == 0 ? Math.Min(d.Length, 4096) : d.Length;
            d[rng.Next(limit)] ^= (byte)(1 << rng.Next(8));
        }

        return d;
    }

    private byte[] SetHeaderField(byte[] d)
    {
        var fields = HeaderFields.Where(f => f.Offset + f.Size <= d.Length).ToArray();
        if (fields.Length > 0)
        {
            var f = fields[rng.Next(fields.Length)];
            Write(d, f, InterestingValue(d, f.Size));
        }

        return d;
    }

    private byte[] SetField(byte[] d)
    {
        var fields = Fields(d);
        if (fields.Count > 0)
        {
            var f = fields[rng.Next(fields.Count)];
            Write(d, f, InterestingValue(d, f.Size));
        }

        return d;
    }

    private byte[] NudgeField(byte[] d)
    {
        var fields = Fields(d);
        if (fields.Count > 0)
        {
            var f = fields[rng.Next(fields.Count)];
            long[] deltas = [1, -1, 8, -8, 512, -512, 4096, -4096, 65536, -65536];
            Write(d, f, Read(d, f) + (ulong)deltas[rng.Next(deltas.Length)]);
        }

        return d;
    }

    /// <summary>Aliasing: one entry's value in another slot (an L1 entry in an L2 slot, two tables naming one cluster…).</summary>
    private byte[] CopyField(byte[] d)
    {
        var fields = Fields(d).Where(f => f.Size == 8).ToList();
        if (fields.Count > 1)
        {
            var from = fields[rng.Next(fields.Count)];
            var to = fields[rng.Next(fields.Count)];
            Write(d, to, Read(d, from) | (rng.Next(2) == 0 ? 1UL << 63 : 0));
        }

        return d;
    }

    private byte[] Resize(byte[] d)
    {
        if (rng.Next(2) == 0 && d.Length > 0)
        {
            return d.AsSpan(0, rng.Next(d.Length)).ToArray();
        }

        var grown = new byte[d.Length + (512 * (1 + rng.Next(256)))];
        d.CopyTo(grown, 0);
        return grown;
    }

    private byte[] Splice(byte[] d, IReadOnlyList<byte[]> corpus)
    {
        var other = corpus[rng.Next(corpus.Count)];
        int length = Math.Min(other.Length, d.Length);
        if (length > 0)
        {
            int at = rng.Next(length);
            int n = Math.Min(length - at, 8 << rng.Next(10));
            other.AsSpan(at, n).CopyTo(d.AsSpan(at));
        }

        return d;
    }

    private byte[] FillRegion(byte[] d)
    {
        if (d.Length >= 512)
        {
            int at = rng.Next(d.Length / 512) * 512;
            int n = Math.Min(d.Length - at, 512 << rng.Next(4));
            d.AsSpan(at, n).Fill(rng.Next(2) == 0 ? (byte)0 : (byte)0xFF);
        }

        return d;
    }

    private ulong InterestingValue(byte[] d, int size)
    {
        int clusterBits = d.Length >= 24 ? (int)Math.Clamp(BinaryPrimitives.ReadUInt32BigEndian(d.AsSpan(20)), 9, 21) : 16;
        ulong cluster = 1UL << clusterBits;
        ulong fileEnd = (ulong)d.Length;
        ulong someCluster = (ulong)rng.Next(Math.Max(1, d.Length >> clusterBits) + 2) * cluster;
        ulong v = rng.Next(24) switch
        {
            0 => 0,
            1 => 1,
            2 => ulong.MaxValue,
            3 => 1UL << 63,
            4 => (1UL << 63) - 1,
            5 => 1UL << 31,
            6 => uint.MaxValue,
            7 => 0x8000_0000_0000_0000 | someCluster, // COPIED
            8 => 0x4000_0000_0000_0000UL | (uint)rng.Next(d.Length + 1) | ((ulong)(uint)rng.Next(256) << (62 - (clusterBits - 8))), // compressed
            9 => someCluster,
            10 => someCluster + 512,
            11 => someCluster | 1,
            12 => someCluster | (1UL << 56),
            13 => fileEnd,
            14 => fileEnd + cluster,
            15 => 0xFFFF_FFFF_0000_0000, // all zero bits
            16 => 0x0000_0001_0000_0001, // allocated and zero
            17 => (ulong)rng.NextInt64(),
            18 => cluster,
            19 => (ulong)rng.Next(65),
            20 => 0x00FF_FFFF_FFFF_FE00,
            21 => 0x0000_0000_FFFF_FFFF, // all allocated
            22 => (ulong)clusterBits,
            _ => (ulong)rng.Next(1 << 16),
        };
        return size switch
        {
            1 => v & 0xFF,
            2 => v & 0xFFFF,
            4 => v & 0xFFFF_FFFF,
            _ => v,
        };
    }

    private static ulong Read(byte[] d, (int Offset, int Size) f) => f.Size switch
    {
        1 => d[f.Offset],
        2 => BinaryPrimitives.ReadUInt16BigEndian(d.AsSpan(f.Offset)),
        4 => BinaryPrimitives.ReadUInt32BigEndian(d.AsSpan(f.Offset)),
        _ => BinaryPrimitives.ReadUInt64BigEndian(d.AsSpan(f.Offset)),
    };

    private static void Write(byte[] d, (int Offset, int Size) f, ulong v)
    {
        switch (f.Size)
        {
            case 1:
                d[f.Offset] = (byte)v;
                break;
            case 2:
                BinaryPrimitives.WriteUInt16BigEndian(d.AsSpan(f.Offset), (ushort)v);
                break;
            case 4:
                BinaryPrimitives.WriteUInt32BigEndian(d.AsSpan(f.Offset), (uint)v);
                break;
            default:
                BinaryPrimitives.WriteUInt64BigEndian(d.AsSpan(f.Offset), v);
                break;
        }
    }
}
