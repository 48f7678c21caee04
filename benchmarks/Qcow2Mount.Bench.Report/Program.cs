using Qcow2Mount.Bench.Report;

// Draws the chart of scripts/bench.sh: IOPS per cluster size, extended L2 on/off, ours vs QEMU.
if (args.Length != 2)
{
    Console.Error.WriteLine("usage: Qcow2Mount.Bench.Report RESULTS.tsv CHART.png");
    return 2;
}

var results = ResultTable.Load(args[0]);
int panels = IopsChart.Save(results, args[1]);
if (panels == 0)
{
    Console.Error.WriteLine("no workload 1 or 2 rows to chart");
    return 1;
}

Console.WriteLine($"wrote {args[1]} ({panels} panels)");
return 0;
