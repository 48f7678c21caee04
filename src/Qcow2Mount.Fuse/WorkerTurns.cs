using Qcow2Mount.Core.Storage;

namespace Qcow2Mount.Fuse;

/// <summary>
/// The CPU turns of <see cref="FuseHost"/>'s workers (<see cref="ICpuTurn"/>): a worker takes one before it reads a
/// request and keeps it from request to request; it gives it up only when the storage layer is about to block it on the
/// disk (a read the page cache cannot answer, the sync of a raw image), so a waiting worker starts reading requests
/// meanwhile, and takes one again before its next request. A qcow2 image syncs holding its metadata lock, which every
/// other request to it waits for: there the turn is kept (handing it over only put more requests part-way through the
/// engine: 2 MiB more peak RSS under workload 7, and nothing gained). Ten workers on two cores then still keep ten reads waiting on the disk, but only
/// two of them compete for the cores at a time.
/// </summary>
/// <remarks>
/// A worker whose read or sync returns finishes its request without a turn (it holds no lock while waiting for one),
/// so at most the turns plus the workers just back from the disk run at once. Measured with 4 KiB random I/O at QD16
/// on two cores (benchmarks/README, "Tails at QD16"): ten workers without turns had p99.9 of overlay writes at 4.7 ms
/// and of cached reads at 0.9 ms; two workers 0.24 and 0.17 ms, but half the IOPS of reads that miss the page cache;
/// ten workers with two turns 0.25 and 0.25 ms, and the misses' IOPS of ten workers.
/// </remarks>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "Never disposed: a worker may still be on its way through it when serving has ended (it makes no wait handle unless asked for one).")]
internal sealed class WorkerTurns
{
    private readonly SemaphoreSlim _free;
    private readonly int _workers;
    private int _open;

    /// <param name="turns">How many workers may serve at once (the cores).</param>
    /// <param name="workers">How many workers there are (all let through at the end).</param>
    public WorkerTurns(int turns, int workers)
    {
        _free = new SemaphoreSlim(turns);
        _workers = workers;
    }

    /// <summary>Turns when there are more workers than cores to run them; null (every worker serves at will) otherwise.</summary>
    public static WorkerTurns? For(int workers, int cores) => workers > cores ? new WorkerTurns(cores, workers) : null;

    /// <summary>A worker's own turn, not held yet.</summary>
    public Turn NewTurn() => new(this);

    /// <summary>
    /// Every worker waiting for a turn goes on without one: after a stop, to answer what still arrives until the
    /// connection ends; when the host is disposed, to find serving ended and leave (a worker that never got a turn
    /// again would never leave).
    /// </summary>
    public void OpenAll()
    {
        if (Interlocked.Exchange(ref _open, 1) == 0)
        {
            _free.Release(_workers);
        }
    }

    /// <summary>One worker's turn.</summary>
    internal sealed class Turn(WorkerTurns turns) : ICpuTurn
    {
        public bool Holding { get; private set; }

        /// <summary>Waits for a turn unless the worker holds one.</summary>
        public void Take()
        {
            if (!Holding)
            {
                turns._free.Wait();
                Holding = true;
            }
        }

        public void GiveUp()
        {
            if (Holding)
            {
                Holding = false;
                turns._free.Release();
            }
        }
    }
}
