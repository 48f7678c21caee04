using Qcow2Mount.TestSupport;

namespace Qcow2Mount.WinFsp.Tests.Support;

/// <summary>qcow2 images made by QEMU for the shim tests: data written by qemu-io at a few places, zeros elsewhere.</summary>
internal static class Images
{
    /// <summary>3 MiB + 1536 bytes: not a multiple of any request size, so the last read crosses the end.</summary>
    public const long OddSize = (3L << 20) + 1536;

    /// <summary>Creates <paramref name="name"/> in <paramref name="dir"/> with seeded data in its first cluster, in the middle and in its last 4 KiB.</summary>
    public static string WithData(TempDir dir, string name, long size = OddSize, int seed = 7)
    {
        string path = dir.File(name);
        QemuTools.Create(path, size, new Dictionary<string, string> { ["cluster_size"] = "65536" });
        string pattern = PatternFile.Random(dir, seed);
        long middle = size / 2 / 65536 * 65536;
        QemuTools.QemuIo(path, $"write -s {pattern} 0 64k", $"write -s {pattern} {middle} 32k", $"write -P 0x5a {size - 4096} 4096");
        return path;
    }

    /// <summary><c>qemu-img convert -O raw</c> of <paramref name="image"/>: the bytes a reader must see.</summary>
    public static byte[] RawBytes(TempDir dir, string image)
    {
        string raw = dir.File(Path.GetFileName(image) + ".expected.raw");
        QemuTools.ConvertToRaw(image, raw);
        return File.ReadAllBytes(raw);
    }
}
