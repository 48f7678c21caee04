using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Packaging.Tests.Support;

/// <summary>FUSE mounts as /proc/self/mountinfo shows them, and taking down the ones a test left under its folder.</summary>
internal static class Mounts
{
    /// <summary>One mount: where, its type (fuse.qcow2mount), its source (the image) and its per-mount options (rw/ro,…).</summary>
    public sealed record Entry(string MountPoint, string Type, string Source, string Options);

    public static IReadOnlyList<Entry> Under(string root) =>
        File.ReadAllLines("/proc/self/mountinfo")
            .Select(l => l.Split(' '))
            .Select(f => (Fields: f, Dash: Array.IndexOf(f, "-")))
            .Select(x => new Entry(Unescape(x.Fields[4]), x.Fields[x.Dash + 1], Unescape(x.Fields[x.Dash + 2]), x.Fields[5]))
            .Where(m => m.MountPoint == root || m.MountPoint.StartsWith(root + "/", StringComparison.Ordinal))
            .ToArray();

    /// <summary>Unmounts (innermost first) everything under <paramref name="root"/>: our mounts with <paramref name="unmount"/>, the rest lazily.</summary>
    public static void TakeDown(string root, Func<string, ProcessResult> unmount)
    {
        foreach (var mount in Under(root).Reverse())
        {
            if (mount.Type != "fuse.qcow2mount" || unmount(mount.MountPoint).ExitCode != 0)
            {
                ProcessRunner.Capture("umount", ["-l", mount.MountPoint]);
            }
        }
    }

    private static string Unescape(string field) =>
        field.Replace("\\040", " ", StringComparison.Ordinal).Replace("\\011", "\t", StringComparison.Ordinal).Replace("\\134", "\\", StringComparison.Ordinal);
}
