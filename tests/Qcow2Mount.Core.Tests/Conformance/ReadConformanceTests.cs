using Qcow2Mount.Core.Qcow2;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Core.Tests.Conformance;

/// <summary>QEMU writes, we read: every image of the matrix reads through <see cref="Qcow2Image"/> exactly as <c>qemu-img convert -O raw</c> gives it.</summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
[Category(TestCategories.Qemu)]
public sealed class ReadConformanceTests
{
    private const long K = 1024;

    public static IEnumerable<TestCaseData> Recipes()
    {
        foreach (long cluster in new[] { 16 * K, 64 * K, 128 * K, 2048 * K })
        {
            foreach (bool extended in new[] { false, true })
            {
                yield return Case($"cluster {cluster / K}k, extended_l2 {(extended ? "on" : "off")}", cluster, Opts(cluster, extended));
            }
        }

        foreach (int bits in new[] { 1, 64 })
        {
            foreach (bool extended in new[] { false, true })
            {
                yield return Case($"refcount_bits {bits}, extended_l2 {(extended ? "on" : "off")}", 64 * K, Opts(64 * K, extended, ("refcount_bits", bits.ToString())));
            }
        }

        foreach (long cluster in new[] { 16 * K, 64 * K })
        {
            yield return Case($"compat 0.10, cluster {cluster / K}k", cluster, Opts(cluster, false, ("compat", "0.10")));
        }

        foreach (string type in new[] { "zlib", "zstd" })
        {
            foreach (bool extended in new[] { false, true })
            {
                string l2 = extended ? "on" : "off";
                yield return Case($"{type} via write -c, extended_l2 {l2}", 64 * K, Opts(64 * K, extended, ("compression_type", type)), RecipeExtra.CompressedWrites);
                yield return Case($"{type} via convert -c, extended_l2 {l2}", 64 * K, Opts(64 * K, extended, ("compression_type", type)), RecipeExtra.ConvertCompressed);
            }
        }

        yield return Case("zlib via write -c, cluster 2048k", 2048 * K, Opts(2048 * K, false), RecipeExtra.CompressedWrites);
        yield return Case("zstd via write -c, cluster 16k, extended_l2 on", 16 * K, Opts(16 * K, true, ("compression_type", "zstd")), RecipeExtra.CompressedWrites);

        foreach (bool extended in new[] { false, true })
        {
            yield return Case($"internal snapshot, extended_l2 {(extended ? "on" : "off")}", 64 * K, Opts(64 * K, extended), RecipeExtra.Snapshot);
        }
    }

    [TestCaseSource(nameof(Recipes))]
    public void Read_WholeDisk_EqualsQemuConvert(ReadRecipe recipe)
    {
        using var dir = new TempDir(recipe.Name);
        string image = recipe.Build(dir);
        string expected = dir.File("expected.raw");
        QemuTools.ConvertToRaw(image, expected);
        string before = Checksum.Sha256OfFile(image);
        Assert.That(recipe.MissingFeatures(L2Dump.Load(image)), Is.Empty, "the recipe did not build what it claims");

        using (Qcow2Image disk = Qcow2Image.Open(image, new ImageOpenOptions { ReadOnly = true }))
        {
            Assert.Multiple(() =>
            {
                Assert.That(disk.Length, Is.EqualTo(recipe.Size));
                Assert.That(disk.IsReadOnly, Is.True);
                Assert.That(DiskContent.DescribeDifference(disk, expected), Is.Empty, "sequential read in 1 MiB+4097 chunks");
                Assert.That(RandomReads(disk, expected, seed: recipe.Name.Length, count: 300), Is.Empty, "random unaligned reads");
                Assert.That(ReadAtEnd(disk), Is.EqualTo(100), "a read across the disk end is short");
            });
        }

        Assert.That(Checksum.Sha256OfFile(image), Is.EqualTo(before), "a read-only open changed the image file");
    }

    [Test]
    public void DiskImageOpen_Qcow2File_ReadsLikeQemuConvert()
    {
        using var dir = new TempDir();
        var recipe = new ReadRecipe("probe", 64 * K, Opts(64 * K, true));
        string image = recipe.Build(dir);
        string expected = dir.File("expected.raw");
        QemuTools.ConvertToRaw(image, expected);

        using IVirtualDisk disk = DiskImage.Open(image, new ImageOpenOptions { ReadOnly = true });

        Assert.Multiple(() =>
        {
            Assert.That(disk, Is.InstanceOf<Qcow2Image>());
            Assert.That(DiskContent.DescribeDifference(disk, expected), Is.Empty);
        });
    }

    /// <summary>Empty when <paramref name="count"/> seeded reads of 1 B..200 KiB at unaligned offsets match the raw file; else the first mismatch.</summary>
    internal static string RandomReads(IVirtualDisk disk, string rawPath, int seed, int count)
    {
        using var raw = File.OpenHandle(rawPath);
        var random = new Random(seed);
        var expected = new byte[200 * 1024];
        var actual = new byte[expected.Length];
        for (int i = 0; i < count; i++)
        {
            int length = random.Next(8) == 0 ? random.Next(1, 16) : random.Next(1, expected.Length + 1);
            long offset = random.NextInt64(disk.Length - length + 1);
            DiskContent.ReadFully(raw, expected.AsSpan(0, length), offset);
            int n = disk.Read(offset, actual.AsSpan(0, length));
            string difference = n != length
                ? $"read of {length} bytes at {offset} returned {n}"
                : Checksum.DescribeDifference(expected.AsSpan(0, length), actual.AsSpan(0, length), offset);
            if (difference.Length > 0)
            {
                return $"seed {seed}, read #{i} ({length} bytes at {offset}): {difference}";
            }
        }

        return string.Empty;
    }

    private static int ReadAtEnd(Qcow2Image disk) => disk.Read(disk.Length - 100, new byte[4096]);

    private static TestCaseData Case(string name, long cluster, IReadOnlyDictionary<string, string> options, RecipeExtra extra = RecipeExtra.None) =>
        new TestCaseData(new ReadRecipe(name, cluster, options, extra)).SetArgDisplayNames(name);

    private static Dictionary<string, string> Opts(long cluster, bool extended, params (string Key, string Value)[] more)
    {
        var options = new Dictionary<string, string> { ["cluster_size"] = cluster.ToString() };
        if (extended)
        {
            options["extended_l2"] = "on";
        }

        foreach ((string key, string value) in more)
        {
            options[key] = value;
        }

        return options;
    }
}
