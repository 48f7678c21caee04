using ScottPlot;

namespace Qcow2Mount.Bench.Report;

/// <summary>
/// Workloads 1 and 2 as bar charts: one panel per (workload, backing, queue depth), cluster sizes
/// along x, four bars each (ours/QEMU × extended L2 off/on), the raw-file ceiling as a dashed line.
/// </summary>
internal static class IopsChart
{
    private static readonly (string Impl, string ExtL2, string Label, Color Color)[] Series =
    [
        ("ours", "off", "ours, ext L2 off", Color.FromHex("#9ecae1")),
        ("ours", "on", "ours, ext L2 on", Color.FromHex("#2171b5")),
        ("qemu", "off", "QEMU, ext L2 off", Color.FromHex("#fdae6b")),
        ("qemu", "on", "QEMU, ext L2 on", Color.FromHex("#d94801")),
    ];

    private static readonly Dictionary<string, string> WorkloadNames = new(StringComparer.Ordinal)
    {
        ["w1"] = "overlay over a full backing file",
        ["w2"] = "overlay without backing file",
    };

    /// <summary>Saves the chart; returns the number of panels (0 = nothing to draw, no file written).</summary>
    public static int Save(ResultTable results, string pngPath)
    {
        var iops = results.Rows.Where(r => WorkloadNames.ContainsKey(r.Workload) && r.Metric == "iops").ToList();
        var panels = iops
            .Select(r => (r.Workload, Backing: r.Get("backing") ?? "?", Qd: r.Get("qd") ?? "?"))
            .Distinct()
            .OrderBy(p => p.Workload, StringComparer.Ordinal)
            .ThenBy(p => p.Backing, StringComparer.Ordinal)
            .ThenBy(p => int.TryParse(p.Qd, out int q) ? q : 0)
            .ToList();
        if (panels.Count == 0)
        {
            return 0;
        }

        int columns = panels.Select(p => p.Qd).Distinct().Count();
        int rows = (panels.Count + columns - 1) / columns;
        var multiplot = new Multiplot();
        multiplot.AddPlots(panels.Count);
        multiplot.Layout = new ScottPlot.MultiplotLayouts.Grid(rows, columns);
        for (int i = 0; i < panels.Count; i++)
        {
            var (workload, backing, qd) = panels[i];
            var rowsHere = iops.Where(r => r.Workload == workload && r.Get("backing") == backing && r.Get("qd") == qd).ToList();
            string backingText = backing == "none" ? string.Empty : $" ({backing})";
            DrawPanel(multiplot.GetPlot(i), results, rowsHere, $"{WorkloadNames[workload]}{backingText}, 4 KiB random writes, QD{qd}", showLegend: i == 0);
        }

        multiplot.SavePng(pngPath, 640 * columns, 420 * rows);
        return panels.Count;
    }

    private static void DrawPanel(Plot plot, ResultTable results, List<ResultRow> rows, string title, bool showLegend)
    {
        string[] clusters = rows
            .Select(r => r.Get("cluster") ?? "?")
            .Distinct()
            .OrderBy(ClusterBytes)
            .ToArray();
        string workload = rows[0].Workload;
        var bars = new List<Bar>();
        double ceiling = 0;
        for (int c = 0; c < clusters.Length; c++)
        {
            for (int s = 0; s < Series.Length; s++)
            {
                var (impl, extL2, _, color) = Series[s];
                var row = rows.FirstOrDefault(r => r.Get("cluster") == clusters[c] && r.Get("extl2") == extL2);
                if (row is null)
                {
                    continue;
                }

                ceiling = Math.Max(ceiling, results.Median(workload, row.Case, "ceiling", "iops") ?? 0);
                if (results.Median(workload, row.Case, impl, "iops") is double v)
                {
                    bars.Add(new Bar { Position = (c * (Series.Length + 1)) + s, Value = v, FillColor = color });
                }
            }
        }

        plot.Add.Bars(bars);
        if (ceiling > 0)
        {
            var line = plot.Add.HorizontalLine(ceiling);
            line.LinePattern = LinePattern.Dashed;
            line.Color = Colors.Gray;
        }

        double[] ticks = Enumerable.Range(0, clusters.Length).Select(c => (c * (Series.Length + 1)) + ((Series.Length - 1) / 2.0)).ToArray();
        plot.Axes.Bottom.SetTicks(ticks, clusters);
        plot.Axes.Margins(bottom: 0, top: showLegend ? 0.5 : 0.1);
        plot.Title(title, size: 13);
        plot.XLabel("cluster size");
        plot.YLabel("IOPS (median)");
        if (showLegend)
        {
            bool oursMeasured = results.Rows.Any(r => r.Impl == "ours" && r.Workload == workload);
            foreach (var (impl, _, label, color) in Series)
            {
                string text = impl == "ours" && !oursMeasured ? $"{label} (n/a)" : label;
                plot.Legend.ManualItems.Add(new LegendItem { LabelText = text, FillColor = color });
            }

            if (ceiling > 0)
            {
                plot.Legend.ManualItems.Add(new LegendItem { LabelText = "raw file (ceiling)", LineColor = Colors.Gray, LinePattern = LinePattern.Dashed, LineWidth = 2 });
            }

            plot.ShowLegend(Alignment.UpperRight);
        }
    }

    private static long ClusterBytes(string size)
    {
        char unit = size.Length > 0 ? char.ToUpperInvariant(size[^1]) : ' ';
        long shift = unit switch { 'K' => 10, 'M' => 20, 'G' => 30, _ => 0 };
        return long.TryParse(shift == 0 ? size : size[..^1], out long n) ? n << (int)shift : 0;
    }
}
