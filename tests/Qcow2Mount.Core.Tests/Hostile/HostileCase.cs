namespace Qcow2Mount.Core.Tests.Hostile;

/// <summary>What a broken image must do.</summary>
public enum Expect
{
    /// <summary>Every open (read-only and read-write) fails with <see cref="HostileCase.Error"/>.</summary>
    OpenFails,

    /// <summary>Read-only opens and reads everything; a read-write open fails (corrupt bit).</summary>
    ReadWriteOpenFails,

    /// <summary>Opens; the affected guest cluster fails with ImageCorruptException, both to read and to change.</summary>
    RangeFails,

    /// <summary>Opens and reads everything; changing the affected guest cluster fails (broken refcount metadata).</summary>
    ChangeFails,
}

/// <summary>The change a read-write test makes to the affected guest cluster.</summary>
public enum Change
{
    Write,
    Discard,

    /// <summary>A zero write that may unmap, then a flush (deferred refcount decrements happen at the flush).</summary>
    ZeroUnmapAndFlush,
}

/// <summary>One hand-made broken image: how to make it and what opening and using it must do.</summary>
/// <param name="Name">Test name.</param>
/// <param name="Make">Writes the image (and any files it refers to) into the directory; returns the image path.</param>
/// <param name="Expect">The outcome.</param>
/// <param name="Error">Exception type of the failure.</param>
/// <param name="Message">Parts the one-line message must contain (the field and the value).</param>
public sealed record HostileCase(string Name, Func<string, string> Make, Expect Expect, Type Error, params string[] Message)
{
    /// <summary>Guest cluster whose mapping is broken (RangeFails, ChangeFails).</summary>
    public int GuestCluster { get; init; }

    /// <summary>
    /// A guest offset that must still read correctly (RangeFails), or -1. Its cluster must hold non-zero data written
    /// before the corruption, so that a read returning zeros (or any wrong bytes) fails against QEMU's reading.
    /// </summary>
    public long HealthyOffset { get; init; } = -1;

    /// <summary>Why a RangeFails case has no <see cref="HealthyOffset"/> (every guest range depends on the broken structure).</summary>
    public string? NoHealthyRangeBecause { get; init; }

    public Change Change { get; init; } = Change.Write;

    /// <summary>Cluster size of the image (guest offsets are derived from it).</summary>
    public int ClusterSize { get; init; } = 65536;

    /// <summary>Expected guest content for reads that must succeed (null = do not compare).</summary>
    public Func<byte[]>? ExpectedGuest { get; init; }

    public override string ToString() => Name;
}
