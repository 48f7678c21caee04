using System.Buffers;
using System.Globalization;
using Qcow2Mount.Core.Tools.BlockStatus;

namespace Qcow2Mount.Core.Tools;

/// <summary>
/// qemu-img compare: walks both images by block status (backing chains included) and reads only where it must.
/// Ranges both sides know to be zero are skipped, ranges whose bytes come from the same layer file in both chains are
/// skipped, a range allocated on one side only must read as zeros there, and ranges allocated on both are read and
/// compared in pieces of at most 2 MiB. The first difference is reported at the start of its 512-byte sector,
/// counted from the start of the piece, as qemu-img reports it. Without strict mode the longer image's tail must
/// read as zeros; strict mode also fails on different sizes and on the first range whose status flags differ.
/// </summary>
public static class ImageComparer
{
    /// <summary>qemu-img's I/O buffer: the most it reads of one range at a time.</summary>
    public const int PieceSize = 2 << 20;

    private const int SectorSize = 512;

    public static CompareResult Compare(string first, string second, CompareOptions options)
    {
        using var a = CompareSide.Open(first, options.FirstFormat, options.Lock);
        using var b = CompareSide.Open(second, options.SecondFormat, options.Lock);
        byte[] buf1 = ArrayPool<byte>.Shared.Rent(PieceSize);
        byte[] buf2 = ArrayPool<byte>.Shared.Rent(PieceSize);
        try
        {
            return Run(a, b, options, buf1, buf2);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buf1);
            ArrayPool<byte>.Shared.Return(buf2);
        }
    }

    private static CompareResult Run(CompareSide a, CompareSide b, CompareOptions options, byte[] buf1, byte[] buf2)
    {
        long size1 = a.Length, size2 = b.Length;
        long common = Math.Min(size1, size2), total = Math.Max(size1, size2);
        var lines = new List<string>();
        options.Progress?.Invoke(0);
        if (options.Strict && size1 != size2)
        {
            lines.Add("Strict mode: Image size mismatch!");
            return new CompareResult(false, lines, a.BytesRead + b.BytesRead);
        }

        long offset = 0;
        while (offset < common)
        {
            options.Cancellation.ThrowIfCancellationRequested();
            var s1 = a.Status(offset, size1 - offset);
            var s2 = b.Status(offset, size2 - offset);
            long chunk = Math.Min(s1.Length, s2.Length);
            if (options.Strict && s1.Flags != s2.Flags)
            {
                lines.Add(string.Create(CultureInfo.InvariantCulture, $"Strict mode: Offset {offset} block status mismatch!"));
                return new CompareResult(false, lines, a.BytesRead + b.BytesRead);
            }

            if (s1.IsZero && s2.IsZero)
            {
                // Both read as zeros: nothing to read.
            }
            else if (s1.IsAllocated == s2.IsAllocated)
            {
                chunk = Math.Min(chunk, PieceSize);
                if (s1.IsAllocated && !CompareSide.SameSource(a, s1, b, s2))
                {
                    int n = (int)chunk;
                    a.Read(offset, buf1.AsSpan(0, n));
                    b.Read(offset, buf2.AsSpan(0, n));
                    int same = buf1.AsSpan(0, n).CommonPrefixLength(buf2.AsSpan(0, n));
                    if (same < n)
                    {
                        lines.Add(Mismatch(offset, same));
                        return new CompareResult(false, lines, a.BytesRead + b.BytesRead);
                    }
                }
            }
            else
            {
                chunk = Math.Min(chunk, PieceSize);
                if (FirstNonZero(s1.IsAllocated ? a : b, offset, (int)chunk, buf1) is { } at)
                {
                    lines.Add(Mismatch(offset, at));
                    return new CompareResult(false, lines, a.BytesRead + b.BytesRead);
                }
            }

            offset += chunk;
            options.Progress?.Invoke((double)offset / total);
        }

        if (size1 != size2)
        {
            lines.Add("Warning: Image size mismatch!");
            var longer = size1 > size2 ? a : b;
            while (offset < total)
            {
                options.Cancellation.ThrowIfCancellationRequested();
                var s = longer.Status(offset, total - offset);
                long chunk = s.Length;
                if (s.IsAllocated && !s.IsZero)
                {
                    chunk = Math.Min(chunk, PieceSize);
                    if (FirstNonZero(longer, offset, (int)chunk, buf1) is { } at)
                    {
                        lines.Add(Mismatch(offset, at));
                        return new CompareResult(false, lines, a.BytesRead + b.BytesRead);
                    }
                }

                offset += chunk;
                options.Progress?.Invoke((double)offset / total);
            }
        }

        options.Progress?.Invoke(1);
        lines.Add("Images are identical.");
        return new CompareResult(true, lines, a.BytesRead + b.BytesRead);
    }

    /// <summary>Index of the first non-zero byte of the piece, or null when it reads as zeros.</summary>
    private static int? FirstNonZero(CompareSide side, long offset, int length, byte[] buffer)
    {
        side.Read(offset, buffer.AsSpan(0, length));
        int i = buffer.AsSpan(0, length).IndexOfAnyExcept((byte)0);
        return i < 0 ? null : i;
    }

    /// <summary>qemu-img names the 512-byte sector (counted from the piece's start) that holds the first difference.</summary>
    private static string Mismatch(long pieceStart, int indexInPiece) =>
        string.Create(CultureInfo.InvariantCulture, $"Content mismatch at offset {pieceStart + (indexInPiece / SectorSize * SectorSize)}!");
}
