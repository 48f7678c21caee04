namespace Qcow2Mount.Core.Qcow2.Bitmaps;

/// <summary>
/// The granules one bitmap saw written this session, kept sparse: one cluster-sized bit array per bitmap table entry
/// touched (the bits of that entry's data cluster, LSB first), created on first touch, holding only the new bits; the
/// bits already on disk are merged in when the chunk is stored. Memory is therefore (chunks touched) × cluster size,
/// whatever the disk size; the owner bounds the total by storing chunks early (<see cref="PersistentBitmaps"/>).
/// Not thread-safe: the owner serialises.
/// </summary>
internal sealed class DirtyGranules
{
    private readonly BitmapGeometry _geo;
    private readonly Dictionary<long, byte[]> _chunks = new();

    public DirtyGranules(BitmapGeometry geo)
    {
        _geo = geo;
    }

    /// <summary>Chunks held (each <see cref="BitmapGeometry.ClusterSize"/> bytes).</summary>
    public int ChunkCount => _chunks.Count;

    /// <summary>Table indices of the chunks held, ascending.</summary>
    public IEnumerable<long> Indices => _chunks.Keys.Order();

    /// <summary>Sets the bits of every granule guest bytes [offset, offset+length) touch; returns the chunks it created.</summary>
    public int Mark(long offset, long length)
    {
        if (length <= 0)
        {
            return 0;
        }

        var (first, last) = _geo.GranulesOf(offset, length);
        last = Math.Min(last, _geo.BitCount - 1);
        int created = 0;
        long perChunk = _geo.BitsPerCluster;
        for (long bit = first; bit <= last;)
        {
            long index = bit / perChunk;
            long chunkEnd = Math.Min(last, ((index + 1) * perChunk) - 1);
            if (!_chunks.TryGetValue(index, out var chunk))
            {
                chunk = new byte[_geo.ClusterSize];
                _chunks.Add(index, chunk);
                created++;
            }

            SetBits(chunk, bit - (index * perChunk), chunkEnd - (index * perChunk));
            bit = chunkEnd + 1;
        }

        return created;
    }

    /// <summary>The chunk of table entry <paramref name="index"/> (kept), or null.</summary>
    public byte[]? Peek(long index) => _chunks.TryGetValue(index, out var chunk) ? chunk : null;

    /// <summary>Removes and returns the chunk of table entry <paramref name="index"/>, or null.</summary>
    public byte[]? Take(long index) => _chunks.Remove(index, out var chunk) ? chunk : null;

    public void Clear() => _chunks.Clear();

    /// <summary>Sets bits [first, last] of <paramref name="bits"/> (LSB first within a byte).</summary>
    public static void SetBits(Span<byte> bits, long first, long last)
    {
        long firstByte = first >> 3;
        long lastByte = last >> 3;
        if (firstByte == lastByte)
        {
            bits[(int)firstByte] |= (byte)((0xFF << (int)(first & 7)) & (0xFF >> (7 - (int)(last & 7))));
            return;
        }

        bits[(int)firstByte] |= (byte)(0xFF << (int)(first & 7));
        bits[(int)(firstByte + 1)..(int)lastByte].Fill(0xFF);
        bits[(int)lastByte] |= (byte)(0xFF >> (7 - (int)(last & 7)));
    }
}
