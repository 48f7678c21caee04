namespace Qcow2Mount.Core.Qcow2.Format;

/// <summary>One header extension (spec §3): type magic and data bytes, kept verbatim for unknown types.</summary>
public sealed record HeaderExtension(uint Type, byte[] Data)
{
    public const uint EndMarker = 0x00000000;
    public const uint BackingFormat = 0xE2792ACA;
    public const uint FeatureNameTable = 0x6803F857;
    public const uint Bitmaps = 0x23852875;
    public const uint FullDiskEncryption = 0x0537BE77;
    public const uint ExternalDataFile = 0x44415441;

    /// <summary>Bytes the extension takes in cluster 0: 8-byte header plus data padded to a multiple of 8.</summary>
    public int EncodedLength => 8 + ((Data.Length + 7) & ~7);
}
