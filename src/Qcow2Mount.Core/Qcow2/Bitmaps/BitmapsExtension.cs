using System.Buffers.Binary;
using Qcow2Mount.Core.Qcow2.Format;

namespace Qcow2Mount.Core.Qcow2.Bitmaps;

/// <summary>The bitmaps header extension (spec §3, type 0x23852875): bitmap count, directory size and offset.</summary>
internal readonly record struct BitmapsExtension(uint Count, long DirectorySize, long DirectoryOffset)
{
    public const int Length = 24;

    public static BitmapsExtension Parse(ReadOnlySpan<byte> data) => new(
        BinaryPrimitives.ReadUInt32BigEndian(data),
        (long)Math.Min(BinaryPrimitives.ReadUInt64BigEndian(data[8..]), long.MaxValue),
        (long)Math.Min(BinaryPrimitives.ReadUInt64BigEndian(data[16..]), long.MaxValue));

    /// <summary>The extension of <paramref name="header"/> when it is present and consistent (autoclear bit 0 set); else null.</summary>
    public static BitmapsExtension? Find(Qcow2Header header) =>
        (header.AutoclearFeatures & FeatureBits.AutoclearBitmaps) != 0 && header.FindExtension(HeaderExtension.Bitmaps) is { } ext
            ? Parse(ext.Data)
            : null;

    public HeaderExtension ToExtension()
    {
        var data = new byte[Length];
        BinaryPrimitives.WriteUInt32BigEndian(data, Count);
        BinaryPrimitives.WriteInt64BigEndian(data.AsSpan(8), DirectorySize);
        BinaryPrimitives.WriteInt64BigEndian(data.AsSpan(16), DirectoryOffset);
        return new HeaderExtension(HeaderExtension.Bitmaps, data);
    }
}
