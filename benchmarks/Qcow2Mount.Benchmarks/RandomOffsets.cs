namespace Qcow2Mount.Benchmarks;

/// <summary>Seeded, 4 KiB-aligned random offsets inside a disk (the same sequence every run, like fio's randseed).</summary>
internal static class RandomOffsets
{
    public static long[] Make(int count, long diskSize, int blockSize, int seed = 20261125)
    {
        var random = new Random(seed);
        long blocks = diskSize / blockSize;
        var offsets = new long[count];
        for (int i = 0; i < offsets.Length; i++)
        {
            offsets[i] = random.NextInt64(blocks) * blockSize;
        }

        return offsets;
    }
}
