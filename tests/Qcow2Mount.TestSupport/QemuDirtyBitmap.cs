using System.Diagnostics;
using System.Text.Json;

namespace Qcow2Mount.TestSupport;

/// <summary>
/// QEMU's own view of a persistent dirty bitmap: the image is exported read-only by <c>qemu-nbd -B BITMAP</c> and the
/// bitmap's block-status context is read with <c>qemu-img map</c> over NBD (<c>x-dirty-bitmap</c>): dirty runs show
/// as <c>"data": false</c>. qemu-nbd refuses an inconsistent (in-use) bitmap, so a consistent one is proven too.
/// </summary>
public static class QemuDirtyBitmap
{
    /// <summary>The dirty byte ranges of <paramref name="bitmap"/> in <paramref name="image"/> as QEMU reads them, merged and ascending.</summary>
    public static IReadOnlyList<(long Start, long Length)> DirtyRanges(string image, string bitmap)
    {
        RequiredTools.Require("qemu-nbd", "qemu-img");
        string dir = TempDir.Create("nbd");
        string socket = Path.Combine(dir, "s.sock");
        var start = new ProcessStartInfo("qemu-nbd")
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (string a in new[] { "-r", "-k", socket, "-B", bitmap, "-f", "qcow2", image })
        {
            start.ArgumentList.Add(a);
        }

        using var server = Process.Start(start) ?? throw new ExternalCommandException("qemu-nbd did not start");
        var stderr = server.StandardError.ReadToEndAsync();
        try
        {
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (!File.Exists(socket) && !server.HasExited && DateTime.UtcNow < deadline)
            {
                Thread.Sleep(20);
            }

            if (!File.Exists(socket))
            {
                server.WaitForExit(5000);
                throw new ExternalCommandException($"qemu-nbd -B {bitmap} {image} did not export: {(server.HasExited ? stderr.GetAwaiter().GetResult() : "no socket after 30 s")}");
            }

            var map = ProcessRunner.Capture("qemu-img", "map", "--output=json", "--image-opts", $"driver=nbd,server.type=unix,server.path={socket},x-dirty-bitmap=qemu:dirty-bitmap:{bitmap}");
            if (map.ExitCode != 0)
            {
                throw new ExternalCommandException("qemu-img map over NBD: " + map);
            }

            using var json = JsonDocument.Parse(map.StandardOutput);
            var runs = json.RootElement.EnumerateArray()
                .Where(e => !e.GetProperty("data").GetBoolean())
                .Select(e => (e.GetProperty("start").GetInt64(), e.GetProperty("length").GetInt64()));
            return Merge(runs);
        }
        finally
        {
            if (!server.HasExited)
            {
                server.Kill();
            }

            server.WaitForExit();
            TempDir.Delete(dir);
        }
    }

    /// <summary>What a bitmap of <paramref name="granularity"/> must hold after <paramref name="writes"/>: every granule they touch, clipped to the disk.</summary>
    public static IReadOnlyList<(long Start, long Length)> Expected(IEnumerable<(long Offset, long Length)> writes, long granularity, long diskSize) =>
        Merge(writes.Where(w => w.Length > 0).Select(w =>
        {
            long s = w.Offset / granularity * granularity;
            long e = Math.Min(diskSize, (w.Offset + w.Length + granularity - 1) / granularity * granularity);
            return (s, e - s);
        }));

    private static List<(long Start, long Length)> Merge(IEnumerable<(long Start, long Length)> runs)
    {
        var merged = new List<(long Start, long Length)>();
        foreach (var (s, l) in runs.OrderBy(r => r.Start))
        {
            if (merged.Count > 0 && merged[^1].Start + merged[^1].Length >= s)
            {
                var last = merged[^1];
                merged[^1] = (last.Start, Math.Max(last.Start + last.Length, s + l) - last.Start);
            }
            else
            {
                merged.Add((s, l));
            }
        }

        return merged;
    }
}
