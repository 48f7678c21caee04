using System.Buffers.Binary;

namespace Qcow2Mount.TestSupport;

/// <summary>Reads and patches bytes of an image file in place (big-endian, as qcow2 stores its fields).</summary>
public static class ImageBytes
{
    /// <summary>Writes <paramref name="bytes"/> at <paramref name="offset"/> of the file.</summary>
    public static void Patch(string path, long offset, ReadOnlySpan<byte> bytes)
    {
        using var f = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite);
        RandomAccess.Write(f, bytes, offset);
    }

    public static ulong ReadU64(string path, long offset)
    {
        Span<byte> b = stackalloc byte[8];
        using var f = File.OpenHandle(path, FileMode.Open, FileAccess.Read);
        RandomAccess.Read(f, b, offset);
        return BinaryPrimitives.ReadUInt64BigEndian(b);
    }

    public static void WriteU64(string path, long offset, ulong value)
    {
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(b, value);
        Patch(path, offset, b);
    }
}
