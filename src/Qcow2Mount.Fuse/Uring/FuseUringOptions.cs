namespace Qcow2Mount.Fuse.Uring;

/// <summary>
/// How the io_uring transport lays out its threads. The kernel has one FUSE queue per possible CPU and puts a request
/// on the queue of the CPU its caller runs on; each queue gets threads of its own, each with its own ring and a number
/// of entries (requests it can hold at once). A thread answers its requests one after another, so a request that waits
/// for the disk holds up the others of its thread: threads of one entry each behave like the /dev/fuse workers (an
/// idle entry always has an idle thread behind it), one thread of many entries saves system calls by batching.
/// </summary>
internal sealed record FuseUringOptions
{
    /// <summary>Threads per queue; null: 8, fewer when there are more than 8 queues (at most 64 threads in all).</summary>
    public int? ThreadsPerQueue { get; init; }

    /// <summary>Entries per thread; null: 1, more when there are fewer than 8 threads per queue (8 entries per queue).</summary>
    public int? EntriesPerThread { get; init; }

    /// <summary>Pin the threads of queue N to CPU N, where the callers whose requests it gets run.</summary>
    public bool PinQueues { get; init; }

    /// <summary>The layout for <paramref name="queues"/> queues: (threads per queue, entries per thread).</summary>
    public (int Threads, int Entries) Layout(int queues)
    {
        int threads = Math.Max(ThreadsPerQueue ?? Math.Clamp(64 / Math.Max(queues, 1), 1, 8), 1);
        int entries = Math.Max(EntriesPerThread ?? (8 + threads - 1) / threads, 1);
        return (threads, entries);
    }
}
