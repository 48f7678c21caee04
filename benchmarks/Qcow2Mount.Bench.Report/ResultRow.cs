namespace Qcow2Mount.Bench.Report;

/// <summary>One raw row of scripts/bench.sh: one metric of one implementation in one round.</summary>
internal sealed record ResultRow(string Workload, string Case, string Impl, int Round, string Metric, double Value)
{
    /// <summary>The <c>key=value</c> words of <see cref="Case"/>, e.g. <c>backing=qcow2 cluster=64k extl2=on qd=16</c>.</summary>
    public string? Get(string key)
    {
        foreach (string word in Case.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = word.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0 && word.AsSpan(0, eq).SequenceEqual(key))
            {
                return word[(eq + 1)..];
            }
        }

        return null;
    }
}
