namespace Qcow2Mount.TestSupport;

/// <summary>Source files for <c>qemu-io write -s file</c> (the file's bytes, repeated, fill the write buffer), so QEMU writes non-uniform data.</summary>
public static class PatternFile
{
    /// <summary>Incompressible seeded random bytes.</summary>
    public static string Random(TempDir dir, int seed, int length = 64 * 1024)
    {
        var data = new byte[length];
        new Random(seed).NextBytes(data);
        return Write(dir, $"random-{seed}-{length}.bin", data);
    }

    /// <summary>Seeded bytes from a four-letter alphabet: varied, yet compressing to about a quarter, so <c>write -c</c> really stores compressed clusters.</summary>
    public static string Compressible(TempDir dir, int seed, int length = 64 * 1024)
    {
        var data = new byte[length];
        var random = new Random(seed);
        for (int i = 0; i < data.Length; i++)
        {
            data[i] = (byte)("ACGT"[random.Next(4)]);
        }

        return Write(dir, $"compressible-{seed}-{length}.bin", data);
    }

    /// <summary>A raw file of <paramref name="length"/> bytes where byte i is a seeded function of i (a backing file with data everywhere).</summary>
    public static string FilledRaw(string path, long length, int seed)
    {
        using var file = new FileStream(path, FileMode.Create, FileAccess.Write);
        var block = new byte[1 << 20];
        var random = new Random(seed);
        for (long done = 0; done < length; done += block.Length)
        {
            random.NextBytes(block);
            file.Write(block, 0, (int)Math.Min(block.Length, length - done));
        }

        return path;
    }

    private static string Write(TempDir dir, string name, byte[] data)
    {
        string path = dir.File(name);
        File.WriteAllBytes(path, data);
        return path;
    }
}
