using Qcow2Mount.Core.Platform;
using Qcow2Mount.Core.Storage;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Core.Tests.Platform;

/// <summary>
/// <see cref="FileBlockDevice"/> and the serving thread's <see cref="ICpuTurn"/>: the turn is given up before the thread
/// waits for the disk (a read the page cache cannot answer, a raw disk's sync) and kept otherwise. Real files on a disk file
/// system, evicted from the page cache with dd's <c>nocache</c>.
/// </summary>
[TestFixture]
[CancelAfter(30_000)]
[Category(TestCategories.Unit)]
internal sealed class FileBlockDeviceTurnTests
{
    private const int MiB = 1 << 20;

    private TempDir _dir = null!;
    private byte[] _content = null!;
    private string _path = null!;

    [SetUp]
    public void MakeFile()
    {
        _dir = new TempDir("turns", root: "/var/tmp"); // a disk file system: tmpfs keeps every page cached
        _path = _dir.File("data");
        _content = new byte[2 * MiB];
        Random.Shared.NextBytes(_content);
        File.WriteAllBytes(_path, _content);
    }

    [TearDown]
    public void RemoveDir()
    {
        CpuTurns.Current = null;
        _dir.Dispose();
    }

    [Test]
    public void Read_AllCached_KeepsTheTurn()
    {
        var turn = Use(new RecordingTurn());
        using var device = FileBlockDevice.Open(_path, readOnly: true);
        var buffer = new byte[MiB];

        device.Read(MiB / 2, buffer);

        Assert.Multiple(() =>
        {
            Assert.That(turn.GivenUp, Is.Zero);
            Assert.That(buffer, Is.EqualTo(_content.AsSpan(MiB / 2, MiB).ToArray()));
        });
    }

    [Test]
    public void Read_NotCached_GivesTheTurnUpFirst()
    {
        Evict();
        var turn = Use(new RecordingTurn());
        using var device = FileBlockDevice.Open(_path, readOnly: true);
        var buffer = new byte[MiB];

        device.Read(MiB / 2, buffer);

        Assert.Multiple(() =>
        {
            Assert.That(turn.GivenUp, Is.EqualTo(1));
            Assert.That(buffer, Is.EqualTo(_content.AsSpan(MiB / 2, MiB).ToArray()));
        });
    }

    [Test]
    public void Read_PastTheEnd_KeepsTheTurnAndReadsZerosThere()
    {
        var turn = Use(new RecordingTurn());
        using var device = FileBlockDevice.Open(_path, readOnly: true);
        var buffer = new byte[MiB];
        buffer.AsSpan().Fill(0xEE);

        int n = device.Read(2 * MiB - 4096, buffer);

        Assert.Multiple(() =>
        {
            Assert.That(n, Is.EqualTo(4096));
            Assert.That(turn.GivenUp, Is.Zero, "nothing past the end waits for the disk");
            Assert.That(buffer.AsSpan(4096).ContainsAnyExcept((byte)0), Is.False);
        });
    }

    [Test]
    public void Read_WithoutATurn_ReadsAsUsual()
    {
        Evict();
        using var device = FileBlockDevice.Open(_path, readOnly: true);
        var buffer = new byte[2 * MiB];

        Assert.That(device.Read(0, buffer), Is.EqualTo(2 * MiB));
        Assert.That(buffer, Is.EqualTo(_content));
    }

    /// <summary>A raw disk's sync holds nothing that other requests wait for: the turn goes first.</summary>
    [Test]
    public void Flush_RawDisk_GivesTheTurnUpFirst()
    {
        var turn = Use(new RecordingTurn());
        using var disk = new RawDisk(FileBlockDevice.Open(_path, readOnly: false));
        disk.Write(0, new byte[] { 1, 2, 3 });

        disk.Flush();

        Assert.That(turn.GivenUp, Is.EqualTo(1));
    }

    /// <summary>
    /// The file's own sync keeps the turn: a qcow2 image syncs under its metadata lock, which every other request to it
    /// waits for (handing the turn over there cost 2 MiB of peak RSS under workload 7 and gained nothing).
    /// </summary>
    [Test]
    public void Flush_Device_KeepsTheTurn()
    {
        var turn = Use(new RecordingTurn());
        using var device = FileBlockDevice.Open(_path, readOnly: false);
        device.Write(0, new byte[] { 1, 2, 3 });

        device.Flush();

        Assert.That(turn.GivenUp, Is.Zero);
    }

    [Test]
    public void ReadCached_PartlyCached_ReadsTheCachedStartOnly()
    {
        Evict();
        using var file = File.OpenHandle(_path);
        RandomAccess.Read(file, new byte[64 << 10], 0); // brings the start back (with what readahead adds)
        var buffer = new byte[2 * MiB];

        int n = HostPlatform.Space.ReadCached(file, buffer, 0);

        Assert.Multiple(() =>
        {
            Assert.That(n, Is.InRange(64 << 10, 2 * MiB - 1));
            Assert.That(buffer.AsSpan(0, n).SequenceEqual(_content.AsSpan(0, n)), Is.True);
        });
    }

    private static RecordingTurn Use(RecordingTurn turn)
    {
        CpuTurns.Current = turn;
        return turn;
    }

    /// <summary>Drops the file's pages from the page cache (dd's nocache advice over the whole file, after a sync).</summary>
    private void Evict() =>
        QemuTools.Ok("dd", "if=/dev/null", $"of={_path}", "oflag=nocache", "conv=notrunc,fdatasync", "count=0", "status=none");

    private sealed class RecordingTurn : ICpuTurn
    {
        public bool Holding { get; private set; } = true;

        public int GivenUp { get; private set; }

        public void GiveUp()
        {
            if (Holding)
            {
                Holding = false;
                GivenUp++;
            }
        }
    }
}
