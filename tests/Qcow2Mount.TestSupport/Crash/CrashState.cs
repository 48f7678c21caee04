namespace Qcow2Mount.TestSupport.Crash;

/// <summary>
/// What the files hold after one planned power cut. The buffers are reused for the next state of the same replay:
/// write them out (<see cref="WriteFile"/>) before asking for the next one.
/// </summary>
public sealed class CrashState
{
    private readonly byte[][] _buffers;
    private readonly long[] _lengths;

    internal CrashState(CrashPlan plan, byte[][] buffers, long[] lengths, string description)
    {
        Plan = plan;
        _buffers = buffers;
        _lengths = lengths;
        Description = description;
    }

    public CrashPlan Plan { get; }

    /// <summary>The crash point and, per file, which unflushed operations survived (for failure messages).</summary>
    public string Description { get; }

    public ReadOnlySpan<byte> Content(int file) => _buffers[file].AsSpan(0, (int)_lengths[file]);

    /// <summary>Writes file <paramref name="file"/> of this state to <paramref name="path"/> (replacing it).</summary>
    public void WriteFile(int file, string path)
    {
        using var handle = File.OpenHandle(path, FileMode.Create, FileAccess.Write);
        RandomAccess.Write(handle, Content(file), 0);
    }

    public override string ToString() => Description;
}
