namespace Qcow2Mount.Core.Bench;

/// <summary>The request pattern of <see cref="ImageBench"/>: qemu-img bench's options and defaults.</summary>
public sealed record BenchOptions
{
    /// <summary>Number of requests.</summary>
    public int Count { get; init; } = 75000;

    /// <summary>Requests in flight at once (one thread each).</summary>
    public int Depth { get; init; } = 64;

    /// <summary>Guest offset of the first request.</summary>
    public long Offset { get; init; }

    /// <summary>Bytes per request.</summary>
    public int BufferSize { get; init; } = 4096;

    /// <summary>Distance between the offsets of consecutive requests; null = <see cref="BufferSize"/>.</summary>
    public long? Step { get; init; }

    /// <summary>Write requests instead of reads.</summary>
    public bool Write { get; init; }

    /// <summary>The byte every write buffer is filled with.</summary>
    public byte Pattern { get; init; }

    /// <summary>Writes only: after every this many requests wait for those in flight, then flush; 0 = never.</summary>
    public int FlushInterval { get; init; }

    /// <summary>Flush after every write (qemu-img's writethrough and directsync cache modes).</summary>
    public bool FlushEachWrite { get; init; }
}
