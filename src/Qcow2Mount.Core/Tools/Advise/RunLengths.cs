namespace Qcow2Mount.Core.Tools.Advise;

/// <summary>A multiset of lengths kept as counts per distinct length (lengths are multiples of a subcluster, so few are distinct).</summary>
internal sealed class RunLengths
{
    private readonly Dictionary<long, long> _counts = new();

    public long Count { get; private set; }

    public long Largest { get; private set; }

    public void Add(long length)
    {
        if (length <= 0)
        {
            return;
        }

        _counts[length] = _counts.GetValueOrDefault(length) + 1;
        Count++;
        Largest = Math.Max(Largest, length);
    }

    /// <summary>The lower median (0 when empty).</summary>
    public long Median()
    {
        long seen = 0, half = (Count + 1) / 2;
        foreach (var (length, n) in _counts.OrderBy(p => p.Key))
        {
            seen += n;
            if (seen >= half)
            {
                return length;
            }
        }

        return 0;
    }
}
