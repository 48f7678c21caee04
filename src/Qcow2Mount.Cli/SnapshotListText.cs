using System.Globalization;
using System.Text;
using Qcow2Mount.Cli.Options;
using Qcow2Mount.Core.Tools;

namespace Qcow2Mount.Cli;

/// <summary>qemu-img's "Snapshot list:" table (info and snapshot -l): the columns, widths and formats it prints.</summary>
internal static class SnapshotListText
{
    public static void Append(StringBuilder sb, IReadOnlyList<SnapshotInfo> snapshots)
    {
        sb.Append("Snapshot list:\n");
        sb.Append(CultureInfo.InvariantCulture, $"{"ID",-9} {"TAG",-17} {"VM SIZE",7}{"DATE",20}{"VM CLOCK",13}{"ICOUNT",11}\n");
        foreach (var s in snapshots)
        {
            string date = DateTimeOffset.FromUnixTimeSeconds(s.DateSeconds).ToLocalTime().ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);
            long ms = s.VmClockNanoseconds / 1_000_000;
            string clock = string.Create(CultureInfo.InvariantCulture, $"{ms / 3_600_000:00}:{ms / 60_000 % 60:00}:{ms / 1000 % 60:00}.{ms % 1000:000}");
            // qemu-img gives names of 17 or more characters one extra space.
            string name = s.Name.Length >= 17 ? s.Name + " " : s.Name;
            sb.Append(CultureInfo.InvariantCulture, $"{s.Id,-9} {name,-17} {OutputFormat.HumanSize(s.VmStateSize),7}{date,20}{clock,13}{s.Icount?.ToString(CultureInfo.InvariantCulture) ?? "--",11}\n");
        }
    }
}
