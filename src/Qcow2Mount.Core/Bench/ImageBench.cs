using System.Diagnostics;

namespace Qcow2Mount.Core.Bench;

/// <summary>
/// Drives a disk with qemu-img bench's sequential pattern: request i reads or writes <see cref="BenchOptions.BufferSize"/>
/// bytes at Offset + i × Step, wrapped at the end of the disk (the first request is not wrapped), with
/// <see cref="BenchOptions.Depth"/> requests in flight. Used to measure the engine without a FUSE round trip per request.
/// </summary>
public static class ImageBench
{
    /// <summary>Runs the requests and returns how long they took (a final flush, if any, is the caller's).</summary>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    /// <exception cref="IOException">A request failed (for example one reaching past the end of the disk).</exception>
    public static TimeSpan Run(IVirtualDisk disk, BenchOptions options)
    {
        Validate(options);
        // Validate allows a flush interval only for writes; without one the run is a single batch.
        bool flushes = options.FlushInterval > 0;
        int per = flushes ? options.FlushInterval : Math.Max(options.Count, 1);
        var clock = Stopwatch.StartNew();
        for (int start = 0; start < options.Count; start += per)
        {
            RunBatch(disk, options, start, (int)Math.Min((long)start + per, options.Count));
            if (flushes)
            {
                disk.Flush();
            }
        }

        return clock.Elapsed;
    }

    /// <summary>The guest offset of request <paramref name="index"/>.</summary>
    public static long OffsetOf(long diskLength, BenchOptions options, long index)
    {
        if (index == 0)
        {
            return options.Offset;
        }

        if (diskLength == 0)
        {
            return 0;
        }

        long step = options.Step ?? options.BufferSize;
        return (long)(((Int128)options.Offset + ((Int128)index * step)) % diskLength);
    }

    /// <summary>Refuses options qemu-img bench refuses, before anything is opened.</summary>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    public static void Validate(BenchOptions o)
    {
        if (o.Count < 0 || o.Depth < 1 || o.Offset < 0 || o.BufferSize < 0 || o.Step < 0 || o.FlushInterval < 0)
        {
            throw new ArgumentException("count, offset, buffer size, step and flush interval must not be negative, and depth must be at least 1");
        }

        if (o.FlushInterval > 0 && !o.Write)
        {
            throw new ArgumentException("--flush-interval is only available in write tests");
        }

        if (o.FlushInterval > 0 && o.FlushInterval < o.Depth)
        {
            throw new ArgumentException("Flush interval can't be smaller than depth");
        }
    }

    private static void RunBatch(IVirtualDisk disk, BenchOptions o, int start, int end)
    {
        int next = start;
        Exception? failure = null;
        int workers = Math.Min(o.Depth, end - start);

        void Worker()
        {
            var buffer = GC.AllocateUninitializedArray<byte>(o.BufferSize);
            buffer.AsSpan().Fill(o.Pattern);
            try
            {
                for (int i = Interlocked.Increment(ref next) - 1; i < end && Volatile.Read(ref failure) is null; i = Interlocked.Increment(ref next) - 1)
                {
                    long offset = OffsetOf(disk.Length, o, i);
                    if (offset > disk.Length - o.BufferSize)
                    {
                        throw new IOException($"Failed request: {o.BufferSize} bytes at offset {offset} reach past the end of the image ({disk.Length} bytes)");
                    }

                    if (o.Write)
                    {
                        disk.Write(offset, buffer);
                        if (o.FlushEachWrite)
                        {
                            disk.Flush();
                        }
                    }
                    else
                    {
                        disk.Read(offset, buffer);
                    }
                }
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref failure, e, null);
            }
        }

        if (workers == 1)
        {
            Worker(); // depth 1: on the calling thread, no hand-off between requests
        }
        else
        {
            var threads = new Thread[workers];
            for (int t = 0; t < workers; t++)
            {
                threads[t] = new Thread(Worker) { IsBackground = true, Name = "bench" };
                threads[t].Start();
            }

            foreach (var thread in threads)
            {
                thread.Join();
            }
        }

        if (failure is not null)
        {
            throw failure is IOException or Errors.Qcow2Exception ? failure : new IOException($"Failed request: {failure.Message}", failure);
        }
    }
}
