using System.Globalization;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Benchmarks;

/// <summary>Makes benchmark images with the real qemu-img, through the tests' QemuTools (images are made at run time, never checked in).</summary>
internal static class QemuImg
{
    public static void Create(string path, long size, int clusterSize, bool extendedL2, string? backing = null, string? backingFormat = null)
    {
        string options = string.Create(CultureInfo.InvariantCulture, $"cluster_size={clusterSize},extended_l2={(extendedL2 ? "on" : "off")}");
        if (backing is not null)
        {
            options += $",backing_file={backing},backing_fmt={backingFormat}";
        }

        Run("create", "-q", "-f", "qcow2", "-o", options, path, size.ToString(CultureInfo.InvariantCulture));
    }

    public static void ConvertRawToQcow2(string raw, string qcow2) => Run("convert", "-f", "raw", "-O", "qcow2", raw, qcow2);

    /// <summary>A raw file of <paramref name="size"/> bytes of seeded random data (nothing in it reads as zero).</summary>
    public static void WriteRandomRaw(string path, long size, int seed)
    {
        var random = new Random(seed);
        byte[] chunk = new byte[1 << 20];
        using var handle = File.OpenHandle(path, FileMode.Create, FileAccess.Write);
        for (long offset = 0; offset < size; offset += chunk.Length)
        {
            random.NextBytes(chunk);
            RandomAccess.Write(handle, chunk.AsSpan(0, (int)Math.Min(chunk.Length, size - offset)), offset);
        }
    }

    private static void Run(params string[] args) => QemuTools.QemuImg(args);
}
