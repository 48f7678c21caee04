namespace Qcow2Mount.TestSupport;

/// <summary>
/// A three-layer chain base ← mid ← top made by QEMU: the base raw or qcow2, the overlays qcow2 with their own sizes
/// (smaller or larger than the layer below), every layer partly written by qemu-io — including zero writes and
/// discards in the overlays, which must hide the data below, and writes beyond the end of the layer below.
/// </summary>
public sealed record ChainLayout(string BaseFormat, long BaseSize, long MidSize, long TopSize, bool TopExtendedL2)
{
    private const long K = 1024;

    public string Name => $"{BaseFormat} {BaseSize >> 20}M <- {MidSize >> 20}M <- {TopSize >> 20}M{(TopExtendedL2 ? ", top extended_l2" : string.Empty)}";

    public override string ToString() => Name;

    /// <summary>Builds the chain in <paramref name="dir"/> and returns the top image.</summary>
    public string Build(TempDir dir)
    {
        string random = PatternFile.Random(dir, seed: 5);
        string basePath = dir.File("base." + BaseFormat);
        string mid = dir.File("mid.qcow2");
        string top = dir.File("top.qcow2");

        QemuTools.Create(basePath, BaseSize, format: BaseFormat);
        QemuTools.QemuIo(basePath, BaseFormat, [$"write -s {random} 0 {BaseSize / 2}", $"write -P 0xb1 {BaseSize - (300 * K)} {300 * K}"]);

        QemuTools.CreateOverlay(mid, basePath, BaseFormat, MidSize, new Dictionary<string, string> { ["extended_l2"] = TopExtendedL2 ? "off" : "on" });
        QemuTools.QemuIo(
            mid,
            $"write -P 0x2a {100 * K} {5 * K}",
            $"write -s {random} {(1L << 20) - 3000} {70 * K}",
            $"write -z {256 * K} {128 * K}",
            $"write -z {(512 * K) + 1000} 5000",
            $"discard {768 * K} {64 * K}",
            $"write -P 0x2b {MidSize - (64 * K) - 100} {64 * K}");

        QemuTools.CreateOverlay(top, mid, "qcow2", TopSize, new Dictionary<string, string> { ["extended_l2"] = TopExtendedL2 ? "on" : "off" });
        QemuTools.QemuIo(
            top,
            $"write -P 0x3a {101 * K} 1k",
            $"write -s {random} {(2L << 20) + 12345} {200 * K}",
            $"write -z {(1L << 20) - (64 * K)} {64 * K}",
            $"write -z -u {300 * K} 3000",
            $"discard {(3L << 20) - (128 * K)} {128 * K}",
            $"write -P 0x3b {TopSize - 1000} 1000");
        return top;
    }

    public static IEnumerable<ChainLayout> All()
    {
        var sizes = new (long Base, long Mid, long Top)[]
        {
            (3L << 20, 5L << 20, 4L << 20), // mid larger than base, top smaller than mid
            (6L << 20, 2L << 20, 4L << 20), // mid smaller than base, top larger than mid
            (4L << 20, 4L << 20, 6L << 20), // top larger than everything below
        };
        foreach (string format in new[] { "raw", "qcow2" })
        {
            foreach ((long b, long m, long t) in sizes)
            {
                foreach (bool extended in new[] { false, true })
                {
                    yield return new ChainLayout(format, b, m, t, extended);
                }
            }
        }
    }
}
