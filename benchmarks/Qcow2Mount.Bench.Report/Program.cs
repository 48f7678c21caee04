using Qcow2Mount.Bench.Report;

// Draws the charts of scripts/bench.sh: IOPS per cluster size, extended L2 on/off, ours vs QEMU (CHART.png), and
// workload 10's metrics against the virtual size (CHART-flat.png, when the results have workload 10).
if (args.Length != 2)
{
    Console.Error.WriteLine("usage: Qcow2Mount.Bench.Report RESULTS.tsv CHART.png");
    return 2;
}

var results = ResultTable.Load(args[0]);
int panels = IopsChart.Save(results, args[1]);
string flatPath = Path.ChangeExtension(args[1], null) + "-flat.png";
int flatPanels = FlatChart.Save(results, flatPath);
if (flatPanels > 0)
{
    Console.WriteLine($"wrote {flatPath} ({flatPanels} panels)");
}

if (panels == 0 && flatPanels == 0)
{
    Console.Error.WriteLine("no workload 1, 2 or 10 rows to chart");
    return 1;
}

if (panels > 0)
{
    Console.WriteLine($"wrote {args[1]} ({panels} panels)");
}

return 0;
