using System.Globalization;

namespace Qcow2Mount.Bench.Report;

/// <summary>The rows of a results TSV (header line, then workload, case, impl, round, metric, value).</summary>
internal sealed class ResultTable
{
    private readonly List<ResultRow> _rows;

    private ResultTable(List<ResultRow> rows) => _rows = rows;

    public IReadOnlyList<ResultRow> Rows => _rows;

    public static ResultTable Load(string path)
    {
        var rows = new List<ResultRow>();
        foreach (string line in File.ReadLines(path).Skip(1))
        {
            string[] f = line.Split('\t');
            if (f.Length != 6
                || !int.TryParse(f[3], NumberStyles.Integer, CultureInfo.InvariantCulture, out int round)
                || !double.TryParse(f[5], NumberStyles.Float, CultureInfo.InvariantCulture, out double value))
            {
                continue;
            }

            rows.Add(new ResultRow(f[0], f[1], f[2], round, f[4], value));
        }

        return new ResultTable(rows);
    }

    /// <summary>The median over rounds of one metric of one case and implementation, or null when it was not measured.</summary>
    public double? Median(string workload, string @case, string impl, string metric)
    {
        double[] v = _rows
            .Where(r => r.Workload == workload && r.Case == @case && r.Impl == impl && r.Metric == metric)
            .Select(r => r.Value)
            .Order()
            .ToArray();
        if (v.Length == 0)
        {
            return null;
        }

        return v.Length % 2 == 1 ? v[v.Length / 2] : (v[(v.Length / 2) - 1] + v[v.Length / 2]) / 2;
    }
}
