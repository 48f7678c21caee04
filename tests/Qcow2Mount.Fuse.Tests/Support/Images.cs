namespace Qcow2Mount.Fuse.Tests.Support;

/// <summary>Images made by QEMU at test time (never checked-in binaries) and their raw oracle.</summary>
internal static class Images
{
    /// <summary>A qcow2 image with extended L2 entries and 128 KiB clusters, written by qemu-io: "write -P 0xab OFFSET LENGTH" per range.</summary>
    public static string Qcow2(Scratch scratch, string name, string size, params string[] qemuIoWrites)
    {
        RequiredTools.Require("qemu-img");
        string path = scratch.PathOf(name);
        QemuTools.Ok("qemu-img", "create", "-q", "-f", "qcow2", "-o", "extended_l2=on,cluster_size=128k", path, size);
        if (qemuIoWrites.Length > 0)
        {
            var args = new List<string> { "-f", "qcow2" };
            foreach (string w in qemuIoWrites)
            {
                args.Add("-c");
                args.Add(w);
            }

            args.Add(path);
            QemuTools.Ok("qemu-io", [.. args]);
        }

        return path;
    }

    /// <summary>What QEMU reads from <paramref name="image"/>: <c>qemu-img convert -U -O raw</c> (-U: it may be mounted).</summary>
    public static byte[] QemuRaw(Scratch scratch, string image)
    {
        string raw = scratch.PathOf(Path.GetFileName(image) + ".oracle");
        QemuTools.Ok("qemu-img", "convert", "-U", "-O", "raw", image, raw);
        byte[] bytes = File.ReadAllBytes(raw);
        File.Delete(raw);
        return bytes;
    }

    public static void AssertSameBytes(byte[] actual, byte[] expected, string what)
    {
        Assert.That(actual.Length, Is.EqualTo(expected.Length), what + ": length");
        int first = actual.AsSpan().CommonPrefixLength(expected);
        Assert.That(first, Is.EqualTo(expected.Length), $"{what}: first difference at byte {first}");
    }
}
