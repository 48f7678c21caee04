using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Benchmarks;

/// <summary>A scratch directory with the shared base images (random data, made once per process).</summary>
internal sealed class BenchImages : IDisposable
{
    public const long DiskSize = 256L << 20;

    public BenchImages()
    {
        Directory = TempDir.Create("bench");
        BaseRaw = Path.Combine(Directory, "base.raw");
        BaseQcow2 = Path.Combine(Directory, "base.qcow2");
        QemuImg.WriteRandomRaw(BaseRaw, DiskSize, seed: 6);
        QemuImg.ConvertRawToQcow2(BaseRaw, BaseQcow2);
    }

    public string Directory { get; }

    public string BaseRaw { get; }

    /// <summary>Fully allocated, 64 KiB clusters, same data as <see cref="BaseRaw"/>.</summary>
    public string BaseQcow2 { get; }

    public string PathFor(string name) => Path.Combine(Directory, name);

    public void Dispose() => TempDir.Delete(Directory);
}
