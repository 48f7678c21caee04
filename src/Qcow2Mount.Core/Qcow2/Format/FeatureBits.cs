namespace Qcow2Mount.Core.Qcow2.Format;

/// <summary>Feature bits of the v3 header (spec §2.3, "Header": incompatible, compatible, autoclear features).</summary>
public static class FeatureBits
{
    public const ulong IncompatibleDirty = 1UL << 0;
    public const ulong IncompatibleCorrupt = 1UL << 1;
    public const ulong IncompatibleExternalDataFile = 1UL << 2;
    public const ulong IncompatibleCompressionType = 1UL << 3;
    public const ulong IncompatibleExtendedL2 = 1UL << 4;

    /// <summary>Every incompatible bit this program implements.</summary>
    public const ulong IncompatibleKnown = 0x1F;

    public const ulong CompatibleLazyRefcounts = 1UL << 0;

    public const ulong AutoclearBitmaps = 1UL << 0;
    public const ulong AutoclearDataFileRaw = 1UL << 1;

    /// <summary>Autoclear bits this program always keeps on a read-write open (bitmaps is kept only while the bitmaps can be maintained: <see cref="Bitmaps.PersistentBitmaps"/>).</summary>
    public const ulong AutoclearKeptOnWrite = AutoclearDataFileRaw;

    /// <summary>Name of a feature bit as QEMU's feature-name table spells it, for messages.</summary>
    public static string? KnownName(FeatureKind kind, int bit) => (kind, bit) switch
    {
        (FeatureKind.Incompatible, 0) => "dirty bit",
        (FeatureKind.Incompatible, 1) => "corrupt bit",
        (FeatureKind.Incompatible, 2) => "external data file",
        (FeatureKind.Incompatible, 3) => "compression type",
        (FeatureKind.Incompatible, 4) => "extended L2 entries",
        (FeatureKind.Compatible, 0) => "lazy refcounts",
        (FeatureKind.Autoclear, 0) => "bitmaps",
        (FeatureKind.Autoclear, 1) => "raw external data",
        _ => null,
    };
}

/// <summary>The three feature bitmaps of the header, as numbered in the feature-name table extension.</summary>
public enum FeatureKind : byte
{
    Incompatible = 0,
    Compatible = 1,
    Autoclear = 2,
}
