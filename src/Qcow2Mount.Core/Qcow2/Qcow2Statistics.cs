namespace Qcow2Mount.Core.Qcow2;

/// <summary>Counters of what the engine did, for tests and benchmarks (bytes copied on COW, clusters allocated).</summary>
public sealed class Qcow2Statistics
{
    private long _backingBytesRead;
    private long _dataBytesWritten;
    private long _cowBytesWritten;
    private long _clustersAllocated;

    /// <summary>Bytes read from the backing chain to complete partially written (sub)clusters.</summary>
    public long CowBytesRead => Interlocked.Read(ref _backingBytesRead);

    /// <summary>Guest data bytes written to the image's data clusters.</summary>
    public long DataBytesWritten => Interlocked.Read(ref _dataBytesWritten);

    /// <summary>Bytes written to complete partially written (sub)clusters (copy-on-write fill).</summary>
    public long CowBytesWritten => Interlocked.Read(ref _cowBytesWritten);

    /// <summary>Host clusters allocated (data and metadata).</summary>
    public long ClustersAllocated => Interlocked.Read(ref _clustersAllocated);

    internal void AddCowRead(long n) => Interlocked.Add(ref _backingBytesRead, n);

    internal void AddDataWritten(long n) => Interlocked.Add(ref _dataBytesWritten, n);

    internal void AddCowWritten(long n) => Interlocked.Add(ref _cowBytesWritten, n);

    internal void AddClustersAllocated(long n) => Interlocked.Add(ref _clustersAllocated, n);
}
