using ScottPlot;

namespace Qcow2Mount.Bench.Report;

/// <summary>
/// Workload 10 (issue 18, flat as images grow): one panel per metric, the virtual size (1 GiB … 64 TiB) along x,
/// ours and QEMU as lines; a flat line is the goal. Cases "size=S" and "size=S, 64 MiB data".
/// </summary>
internal static class FlatChart
{
    private static readonly (string Metric, string Title)[] Panels =
    [
        ("mount_ms", "mount (ms)"),
        ("first_read_us", "first 4 KiB read (µs)"),
        ("rss_after_read_MiB", "VmRSS after the first read (MiB)"),
        ("unmount_ms", "unmount (ms)"),
        ("check_ms", "check, 64 MiB of data (ms)"),
        ("convert_ms", "convert to qcow2, 64 MiB of data (ms)"),
    ];

    private static readonly (string Impl, string Label, Color Color)[] Series =
    [
        ("ours", "ours", Color.FromHex("#2171b5")),
        ("qemu", "QEMU", Color.FromHex("#d94801")),
    ];

    /// <summary>Saves the chart; returns the number of panels drawn (0 = no workload 10 rows, no file written).</summary>
    public static int Save(ResultTable results, string pngPath)
    {
        var rows = results.Rows.Where(r => r.Workload == "w10" && r.Case.StartsWith("size=", StringComparison.Ordinal)).ToList();
        var panels = Panels.Where(p => rows.Any(r => r.Metric == p.Metric)).ToList();
        if (panels.Count == 0)
        {
            return 0;
        }

        var multiplot = new Multiplot();
        multiplot.AddPlots(panels.Count);
        multiplot.Layout = new ScottPlot.MultiplotLayouts.Grid((panels.Count + 2) / 3, Math.Min(3, panels.Count));
        for (int i = 0; i < panels.Count; i++)
        {
            var (metric, title) = panels[i];
            var plot = multiplot.GetPlot(i);
            var here = rows.Where(r => r.Metric == metric).ToList();
            string[] sizes = here.Select(r => SizeOf(r.Case)).Distinct().OrderBy(Bytes).ToArray();
            double top = 0;
            foreach (var (impl, label, color) in Series)
            {
                var xs = new List<double>();
                var ys = new List<double>();
                for (int s = 0; s < sizes.Length; s++)
                {
                    var row = here.FirstOrDefault(r => SizeOf(r.Case) == sizes[s] && r.Impl == impl);
                    if (row is not null && results.Median("w10", row.Case, impl, metric) is double v)
                    {
                        xs.Add(s);
                        ys.Add(v);
                        top = Math.Max(top, v);
                    }
                }

                if (xs.Count > 0)
                {
                    var line = plot.Add.Scatter(xs.ToArray(), ys.ToArray());
                    line.Color = color;
                    line.LegendText = label;
                    line.LineWidth = 2;
                }
            }

            plot.Axes.Bottom.SetTicks(Enumerable.Range(0, sizes.Length).Select(s => (double)s).ToArray(), sizes);
            plot.Axes.SetLimitsY(0, top > 0 ? top * 1.25 : 1); // from zero: flat must look flat
            plot.Title(title, size: 13);
            plot.XLabel("virtual size (sparse)");
            plot.ShowLegend(Alignment.UpperLeft);
        }

        multiplot.SavePng(pngPath, 480 * Math.Min(3, panels.Count), 360 * ((panels.Count + 2) / 3));
        return panels.Count;
    }

    private static string SizeOf(string @case) => @case["size=".Length..].Split(',')[0];

    private static long Bytes(string size)
    {
        char unit = size.Length > 0 ? char.ToUpperInvariant(size[^1]) : ' ';
        int shift = unit switch { 'K' => 10, 'M' => 20, 'G' => 30, 'T' => 40, _ => 0 };
        return long.TryParse(shift == 0 ? size : size[..^1], out long n) ? n << shift : 0;
    }
}
