using Qcow2Mount.Core;
using Qcow2Mount.Core.Storage;
using Qcow2Mount.Core.Vfs;
using Qcow2Mount.Fuse.Interop;
using Qcow2Mount.Fuse.Tests.Support;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Fuse.Tests;

/// <summary><see cref="FuseHost"/> in this process (as root) over a memory disk: readiness, detaching and stopping.</summary>
[Category(TestCategories.Mount)]
public sealed class FuseHostTests : ScratchFixture
{
    private readonly List<string> _log = [];

    /// <summary>One fixture instance serves every test: each starts with an empty log.</summary>
    [SetUp]
    public void ClearLog()
    {
        lock (_log)
        {
            _log.Clear();
        }
    }

    private FuseHost Mount(string mnt, Action<FuseHost>? onReady = null, uint maxThreads = 10, uint cores = 2, IVirtualDisk? disk = null)
    {
        var directory = new ImageDirectory();
        directory.Add(Scratch.PathOf("disk.qcow2"), disk ?? new MemoryDisk(1 << 20));
        var fileSystem = new FuseFileSystem(directory, message =>
        {
            lock (_log)
            {
                _log.Add(message);
            }
        });
        return FuseHost.Mount(fileSystem, new FuseMountSettings { MountPoint = mnt, FsName = "fuse-host-test", MaxThreads = maxThreads, Cores = cores }, onReady);
    }

    private static (Thread Thread, Func<int> Result) RunInBackground(FuseHost host)
    {
        int result = int.MinValue;
        var thread = new Thread(() => result = host.Run()) { IsBackground = true };
        thread.Start();
        return (thread, () => result);
    }

    /// <summary>A detach with nothing open ends the connection at once: Run returns 0 and the mount point is free.</summary>
    [Test]
    public void Detach_NothingOpen_RunReturnsZeroAndNothingMounted()
    {
        string mnt = Scratch.NewDirectory("mnt");
        using var ready = new ManualResetEventSlim();
        using var host = Mount(mnt, _ => ready.Set());
        var (thread, result) = RunInBackground(host);
        Assert.That(ready.Wait(TimeSpan.FromSeconds(20)), Is.True, "INIT was not answered");

        host.Detach();
        bool connected = host.Connected;

        Assert.That(thread.Join(TimeSpan.FromSeconds(20)), Is.True, "Run did not end");
        Assert.Multiple(() =>
        {
            Assert.That(connected, Is.False, "the connection ended before the unmount returned");
            Assert.That(result(), Is.Zero);
            Assert.That(Scratch.MountsUnder(mnt), Is.Empty);
            Assert.That(_log, Is.Empty);
        });
    }

    /// <summary>The workers of this process (threads named fuse-N), from /proc/self/task/*/comm.</summary>
    private static int Workers() =>
        Directory.GetDirectories("/proc/self/task").Count(task =>
        {
            try
            {
                return File.ReadAllText(Path.Combine(task, "comm")).StartsWith("fuse-", StringComparison.Ordinal);
            }
            catch (IOException)
            {
                return false; // the thread ended meanwhile
            }
        });

    /// <summary>
    /// One worker answers INIT and the mount is ready then; the others start after it (each Thread.Start waits for its
    /// thread, and starting all of them first delayed readiness), and then every one of them serves.
    /// </summary>
    [Test]
    public void Run_ReadyWithTheFirstWorker_TheOthersStartAfterIt()
    {
        WaitForNoWorkers();
        string mnt = Scratch.NewDirectory("mnt");
        int atReady = -1;
        using var ready = new ManualResetEventSlim();
        using var host = Mount(mnt, _ =>
        {
            atReady = Workers();
            ready.Set();
        }, maxThreads: 6);
        var (thread, result) = RunInBackground(host);
        Assert.That(ready.Wait(TimeSpan.FromSeconds(20)), Is.True, "INIT was not answered");
        int afterReady = WaitForWorkers(count => count >= 6);
        host.Detach();
        Assert.That(thread.Join(TimeSpan.FromSeconds(20)), Is.True, "Run did not end");
        Assert.Multiple(() =>
        {
            Assert.That(atReady, Is.EqualTo(1), "workers when the mount was reported ready");
            Assert.That(afterReady, Is.EqualTo(6), "workers after it");
            Assert.That(result(), Is.Zero);
        });
    }

    /// <summary>
    /// When the kernel ends the connection, the workers waiting for a turn are not woken only to leave (eight thread
    /// exits on two cores stood ahead of the flush and the process's exit after a SIGTERM): they stay parked until the
    /// host is disposed, and then every worker leaves.
    /// </summary>
    [Test]
    public void Run_ConnectionEnded_WorkersWaitingForATurnLeaveAtDispose()
    {
        WaitForNoWorkers();
        string mnt = Scratch.NewDirectory("mnt");
        using var ready = new ManualResetEventSlim();
        var host = Mount(mnt, _ => ready.Set(), maxThreads: 6, cores: 2);
        int parked, afterDispose;
        try
        {
            var (thread, result) = RunInBackground(host);
            Assert.That(ready.Wait(TimeSpan.FromSeconds(20)), Is.True, "INIT was not answered");
            WaitForWorkers(count => count == 6);

            host.Detach();
            Assert.That(thread.Join(TimeSpan.FromSeconds(20)), Is.True, "Run did not end");
            Assert.That(result(), Is.Zero);
            WaitForWorkers(count => count <= 4); // the two that held the turns read ENODEV and leave
            Thread.Sleep(300);
            parked = Workers();
        }
        finally
        {
            host.Dispose();
        }

        afterDispose = WaitForWorkers(count => count == 0);
        Assert.Multiple(() =>
        {
            Assert.That(parked, Is.EqualTo(4), "workers left after the connection ended, before Dispose");
            Assert.That(afterDispose, Is.Zero, "workers left after Dispose");
        });
    }

    /// <summary>
    /// A read of /dev/fuse that takes a request just as the kernel shuts the connection down fails with ECONNABORTED
    /// (fuse_dev_do_read), a race no test can time: that is the connection's end, as ENODEV is, and not a failure of
    /// serving (it made a SIGHUP stop exit 2 with "serving the mount failed (Software caused connection abort)").
    /// </summary>
    [TestCase(Errno.ENODEV, true)]
    [TestCase(Errno.ECONNABORTED, true)]
    [TestCase(Errno.EIO, false)]
    [TestCase(Errno.EINVAL, false)]
    public void ConnectionEnded_ErrnoOfADevFuseReadOrWrite(int errno, bool ended) =>
        Assert.That(FuseHost.ConnectionEnded(errno), Is.EqualTo(ended));

    /// <summary>Waits up to 10 s for the number of workers to satisfy <paramref name="done"/>; returns the last count.</summary>
    private static int WaitForWorkers(Func<int, bool> done)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        int count;
        while (!done(count = Workers()) && clock.Elapsed < TimeSpan.FromSeconds(10))
        {
            Thread.Sleep(10);
        }

        return count;
    }

    /// <summary>A detached mount serves the file that is open until it is closed; then Run returns.</summary>
    [Test]
    public void Detach_FileOpen_ServedUntilClosed()
    {
        string mnt = Scratch.NewDirectory("mnt");
        using var host = Mount(mnt);
        var (thread, result) = RunInBackground(host);
        using (var file = File.OpenHandle(Path.Combine(mnt, "disk.raw"), FileMode.Open, FileAccess.ReadWrite))
        {
            host.Detach();
            Assert.That(Scratch.MountsUnder(mnt), Is.Empty, "detached at once");
            Assert.That(host.Connected, Is.True, "the open file holds the connection");
            RandomAccess.Write(file, new byte[] { 7, 8, 9 }, 4096);
            var back = new byte[3];
            RandomAccess.Read(file, back, 4096);
            Assert.Multiple(() =>
            {
                Assert.That(back, Is.EqualTo(new byte[] { 7, 8, 9 }));
                Assert.That(thread.Join(TimeSpan.FromMilliseconds(300)), Is.False, "Run ended while the file was open");
            });
        }

        Assert.That(thread.Join(TimeSpan.FromSeconds(20)), Is.True, "Run did not end after the file was closed");
        Assert.That(result(), Is.Zero);
    }

    /// <summary>
    /// Someone else detached our mount (a file in it still open) and mounted another of ours at the same place: our
    /// detach leaves that one alone (it used to look only at the type of the topmost mount there, and unmounted it).
    /// </summary>
    [Test]
    public void Detach_AnotherMountOfOursInItsPlace_LeftMounted()
    {
        string mnt = Scratch.NewDirectory("mnt");
        using var first = Mount(mnt);
        var (firstThread, firstResult) = RunInBackground(first);
        using (File.OpenHandle(Path.Combine(mnt, "disk.raw"), FileMode.Open, FileAccess.Read))
        {
            Assert.That(Libc.Umount2(mnt, Libc.MNT_DETACH), Is.Zero, "the other user's lazy unmount");
            using var ready = new ManualResetEventSlim();
            using var second = Mount(mnt, _ => ready.Set());
            var (secondThread, _) = RunInBackground(second);
            Assert.That(ready.Wait(TimeSpan.FromSeconds(20)), Is.True, "the second mount's INIT was not answered");

            first.Detach();

            Assert.Multiple(() =>
            {
                Assert.That(Scratch.MountsUnder(mnt), Has.Count.EqualTo(1), "the second mount is still there");
                Assert.That(second.Connected, Is.True);
                Assert.That(first.Connected, Is.True, "the open file still holds the first connection");
            });
            second.Detach();
            Assert.That(secondThread.Join(TimeSpan.FromSeconds(20)), Is.True, "the second mount's Run did not end");
        }

        Assert.That(firstThread.Join(TimeSpan.FromSeconds(20)), Is.True, "Run did not end after the file was closed");
        Assert.That(firstResult(), Is.Zero);
    }

    /// <summary>A host disposed without running (a failure between mount and serve) unmounts once, without a word.</summary>
    [Test]
    public void Dispose_MountedNeverRun_UnmountedQuietly()
    {
        string mnt = Scratch.NewDirectory("mnt");
        var host = Mount(mnt);
        Assert.That(Scratch.MountsUnder(mnt), Has.Count.EqualTo(1));

        host.Dispose();

        Assert.Multiple(() =>
        {
            Assert.That(Scratch.MountsUnder(mnt), Is.Empty);
            Assert.That(_log, Is.Empty);
        });
    }

    /// <summary>
    /// The ready callback runs after the INIT reply and cannot fail it: a throwing callback is logged and ends the mount
    /// with an error (it used to turn the INIT reply into EIO: a dead mount, and a server that never ended).
    /// </summary>
    [Test]
    public void Run_ReadyCallbackThrows_EndsWithAnErrorLoggedAndNothingMounted()
    {
        string mnt = Scratch.NewDirectory("mnt");
        using var host = Mount(mnt, _ => throw new IOException("cannot tell the parent"));

        var (thread, result) = RunInBackground(host);

        Assert.That(thread.Join(TimeSpan.FromSeconds(20)), Is.True, "Run did not end");
        Assert.Multiple(() =>
        {
            Assert.That(result(), Is.Not.Zero);
            Assert.That(_log, Has.Some.Contains("cannot tell the parent"));
            Assert.That(Scratch.MountsUnder(mnt), Is.Empty);
        });
    }

    /// <summary>
    /// With more workers than cores, a worker holds one of the cores' turns while it serves and gives it up only when
    /// its disk is about to block it (<see cref="CpuTurns.BeforeBlocking"/>): on one core, a read stalled after giving
    /// up its turn lets another worker serve the next request, and a read stalled holding it keeps that request waiting.
    /// Either way every worker leaves once the host is disposed.
    /// </summary>
    [TestCase(true, TestName = "Run_OneCoreAReadWaitsForItsDisk_AnotherWorkerServesMeanwhile")]
    [TestCase(false, TestName = "Run_OneCoreAReadStallsHoldingItsTurn_TheNextRequestWaitsForIt")]
    public void Run_OneCoreAReadStalls(bool givesUp)
    {
        WaitForNoWorkers();
        string mnt = Scratch.NewDirectory("mnt");
        using var disk = new StallingDisk(1 << 20, givesUp);
        using var ready = new ManualResetEventSlim();
        using var host = Mount(mnt, _ => ready.Set(), maxThreads: 4, cores: 1, disk: disk);
        var (thread, result) = RunInBackground(host);
        Assert.That(ready.Wait(TimeSpan.FromSeconds(20)), Is.True, "INIT was not answered");

        bool otherServed;
        using (var file = File.OpenHandle(Path.Combine(mnt, "disk.raw")))
        {
            var stalled = Task.Run(() => RandomAccess.Read(file, new byte[4096], 0));
            Assert.That(disk.Stalled.Wait(TimeSpan.FromSeconds(20)), Is.True, "the first read did not reach the disk");
            var other = Task.Run(() => RandomAccess.Read(file, new byte[4096], 512 << 10));
            otherServed = other.Wait(givesUp ? TimeSpan.FromSeconds(20) : TimeSpan.FromMilliseconds(500));
            disk.Release.Set();
            Assert.That(Task.WaitAll([stalled, other], TimeSpan.FromSeconds(20)), Is.True, "the reads did not end after the disk went on");
        }

        host.Detach();
        Assert.That(thread.Join(TimeSpan.FromSeconds(20)), Is.True, "Run did not end");
        host.Dispose();
        int left = WaitForWorkers(count => count == 0);

        Assert.Multiple(() =>
        {
            Assert.That(otherServed, Is.EqualTo(givesUp), givesUp ? "the other read waited for the stalled one" : "the other read was served without a turn");
            Assert.That(result(), Is.Zero);
            Assert.That(left, Is.Zero, "workers left waiting for a turn after Dispose");
        });
    }

    private static void WaitForNoWorkers() => WaitForWorkers(count => count == 0); // an earlier test's, on their way out

    /// <summary>
    /// A memory disk whose first read of byte 0 stalls until <see cref="Release"/>, as a disk read would; when it
    /// <c>givesUp</c>, it first tells the serving thread it is about to block, as <see cref="FileBlockDevice"/> does.
    /// </summary>
    private sealed class StallingDisk(int length, bool givesUp) : IVirtualDisk
    {
        private readonly MemoryDisk _inner = new(length);
        private int _stalls;

        public ManualResetEventSlim Stalled { get; } = new();

        public ManualResetEventSlim Release { get; } = new();

        public long Length => _inner.Length;

        public bool IsReadOnly => false;

        public int Read(long offset, Span<byte> buffer)
        {
            if (offset == 0 && Interlocked.Exchange(ref _stalls, 1) == 0)
            {
                if (givesUp)
                {
                    CpuTurns.BeforeBlocking();
                }

                Stalled.Set();
                Release.Wait();
            }

            return _inner.Read(offset, buffer);
        }

        public void Write(long offset, ReadOnlySpan<byte> data) => _inner.Write(offset, data);

        public void WriteZeroes(long offset, long length, bool mayUnmap) => _inner.WriteZeroes(offset, length, mayUnmap);

        public void Discard(long offset, long length) => _inner.Discard(offset, length);

        public void Flush() => _inner.Flush();

        public BlockStatus GetBlockStatus(long offset, long maxLength) => _inner.GetBlockStatus(offset, maxLength);

        public void Dispose()
        {
            Release.Set();
            _inner.Dispose();
            Stalled.Dispose();
            Release.Dispose();
        }
    }
}
