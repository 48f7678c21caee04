using Qcow2Mount.Core;

namespace Qcow2Mount.TestSupport;

/// <summary>
/// The QEMU side of a differential test: an <see cref="IVirtualDisk"/> whose writes, zero writes and discards become
/// <c>qemu-io</c> commands on a qcow2 file, run in one qemu-io process at each <see cref="Flush"/> and at
/// <see cref="Dispose"/>. Reads are not offered (use <c>qemu-img convert</c>).
/// <see cref="Discard"/> follows the <see cref="IVirtualDisk.Discard"/> contract: whole clusters get qemu-io
/// <c>discard</c>, the unaligned head and tail get <c>write -z</c> (a bare qemu-io discard ignores them).
/// </summary>
public sealed class QemuIoDisk : IVirtualDisk
{
    private readonly string _image;
    private readonly TempDir _scratch;
    private readonly List<string> _pending = [];
    private readonly List<string> _issued = [];
    private int _files;

    /// <summary>Reads the disk length and cluster size with <c>qemu-img info</c>.</summary>
    public QemuIoDisk(string image, TempDir scratch)
        : this(image, scratch, QemuTools.Info(image))
    {
    }

    /// <summary>For a caller that knows the geometry (saves a qemu-img run per case).</summary>
    public QemuIoDisk(string image, TempDir scratch, long length, long clusterSize)
    {
        _image = image;
        _scratch = scratch;
        Length = length;
        ClusterSize = clusterSize;
    }

    private QemuIoDisk(string image, TempDir scratch, System.Text.Json.JsonElement info)
        : this(image, scratch, info.GetProperty("virtual-size").GetInt64(), info.GetProperty("cluster-size").GetInt64())
    {
    }

    public long Length { get; }

    public long ClusterSize { get; }

    public bool IsReadOnly => false;

    /// <summary>Every qemu-io command issued so far, in order (for failure messages).</summary>
    public IReadOnlyList<string> Commands => _issued;

    public int Read(long offset, Span<byte> buffer) => throw new NotSupportedException("read the image with qemu-img convert");

    public void Write(long offset, ReadOnlySpan<byte> data)
    {
        string source = _scratch.File($"qemu-io-write-{_files++}.bin");
        File.WriteAllBytes(source, data.ToArray());
        Add($"write -q -s {source} {offset} {data.Length}");
    }

    public void WriteZeroes(long offset, long length, bool mayUnmap) =>
        Add($"write -q -z{(mayUnmap ? " -u" : string.Empty)} {offset} {length}");

    public void Discard(long offset, long length)
    {
        long end = offset + length;
        long first = Math.Min(end, (offset + ClusterSize - 1) / ClusterSize * ClusterSize);
        long last = Math.Max(first, end / ClusterSize * ClusterSize);
        if (end == Length)
        {
            last = end; // QEMU discards the partial last cluster of the disk
        }

        if (first > offset)
        {
            Add($"write -q -z {offset} {first - offset}");
        }

        if (last > first)
        {
            Add($"discard -q {first} {last - first}");
        }

        if (end > last)
        {
            Add($"write -q -z {last} {end - last}");
        }
    }

    public void Flush()
    {
        if (_pending.Count > 0)
        {
            QemuTools.QemuIo(_image, [.. _pending, "flush"]);
            _pending.Clear();
        }
    }

    public BlockStatus GetBlockStatus(long offset, long maxLength) => throw new NotSupportedException("use qemu-img map");

    public void Dispose() => Flush();

    private void Add(string command)
    {
        _pending.Add(command);
        _issued.Add(command);
    }
}
