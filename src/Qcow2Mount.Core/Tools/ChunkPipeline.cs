using System.Runtime.ExceptionServices;

namespace Qcow2Mount.Core.Tools;

/// <summary>
/// Runs chunks 0..count-1 through a read phase and a write phase on a few worker threads. Chunks are handed out in
/// order; reads run in parallel; with <c>orderedWrites</c> the writes run one at a time in chunk order, so the target
/// sees one sequential writer (several writers into one file contend for its inode lock: measured here, 22 % of the
/// CPU spinning in ext4's rwsem with four unordered writers). qemu-img convert does the same unless given -W.
/// </summary>
/// <remarks>
/// Ordered writes pass no chunk from thread to thread: a chunk that is read waits with its state until it is next, and
/// whoever makes the next chunk ready writes it and every ready one after it. (A worker that waited for its turn
/// needed a wake-up per chunk, and those kept the writer idle between 2 MiB writes more than they kept it busy: a
/// 4 GiB qcow2 → raw conversion took 2.7 s with 1.5 s of CPU.) The states are pooled, twice as many as workers, and a
/// worker takes one before it takes a chunk, so the chunk that is next always has a worker on it.
/// </remarks>
internal static class ChunkPipeline
{
    public static void Run<TState>(long count, int workers, bool orderedWrites, Func<TState> newState,
        Action<long, TState> read, Action<long, TState> write)
    {
        int n = (int)Math.Clamp(count, 1, Math.Max(1, workers));
        long nextRead = -1;
        Exception? failure = null;
        var gate = new object();

        // Ordered writes only; all under gate.
        var ready = new Dictionary<long, TState>();
        var free = new Stack<TState>();
        int states = 0;
        long nextWrite = 0;
        bool writing = false;

        // Takes a state and the next chunk together (waiting while every state is taken); false at the end or after a failure.
        bool TakeChunk(out long index, out TState state)
        {
            lock (gate)
            {
                while (free.Count == 0 && states >= 2 * n && failure is null)
                {
                    Monitor.Wait(gate);
                }

                index = nextRead + 1;
                if (failure is not null || index >= count)
                {
                    state = default!;
                    return false;
                }

                nextRead = index;
                if (free.Count > 0)
                {
                    state = free.Pop();
                }
                else
                {
                    state = newState();
                    states++;
                }

                return true;
            }
        }

        // Queues a read chunk; the thread that finds the next chunk ready and nobody writing writes the ready run.
        void WriteInOrder(long index, TState state)
        {
            lock (gate)
            {
                ready.Add(index, state);
                if (writing)
                {
                    return;
                }

                writing = true;
            }

            try
            {
                while (true)
                {
                    long k;
                    TState s;
                    lock (gate)
                    {
                        if (failure is not null || !ready.Remove(nextWrite, out s!))
                        {
                            writing = false;
                            return;
                        }

                        k = nextWrite;
                    }

                    write(k, s);
                    lock (gate)
                    {
                        nextWrite++;
                        free.Push(s);
                        Monitor.PulseAll(gate);
                    }
                }
            }
            catch
            {
                lock (gate)
                {
                    writing = false;
                }

                throw;
            }
        }

        void Worker()
        {
            try
            {
                if (orderedWrites)
                {
                    while (TakeChunk(out long i, out var state))
                    {
                        read(i, state);
                        WriteInOrder(i, state);
                    }

                    return;
                }

                var own = newState();
                while (Volatile.Read(ref failure) is null)
                {
                    long i = Interlocked.Increment(ref nextRead);
                    if (i >= count)
                    {
                        return;
                    }

                    read(i, own);
                    write(i, own);
                }
            }
            catch (Exception e)
            {
                lock (gate)
                {
                    failure ??= e;
                    Monitor.PulseAll(gate);
                }
            }
        }

        var threads = new Thread[n - 1];
        for (int t = 0; t < threads.Length; t++)
        {
            threads[t] = new Thread(Worker) { IsBackground = true, Name = $"copy-{t + 1}" };
            threads[t].Start();
        }

        Worker();
        foreach (var thread in threads)
        {
            thread.Join();
        }

        if (failure is not null)
        {
            ExceptionDispatchInfo.Capture(failure).Throw();
        }
    }
}
