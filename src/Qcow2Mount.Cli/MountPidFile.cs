using System.Globalization;
using Qcow2Mount.Fuse.Interop;

namespace Qcow2Mount.Cli;

/// <summary>
/// How <c>unmount</c> finds the server of a mount: the server writes its pid to
/// <c>/run/qcow2mount/ESCAPED-MOUNTPOINT.pid</c> (non-root: <c>$XDG_RUNTIME_DIR/qcow2mount</c>, else
/// <c>/tmp/qcow2mount-UID</c>) once mounted and deletes it after its images are flushed and closed.
/// ESCAPED-MOUNTPOINT is the absolute path without its leading slash, '%' written as %25 and '/' as %2F.
/// </summary>
internal static class MountPidFile
{
    public static string DirectoryPath
    {
        get
        {
            uint uid = Libc.GetEUid();
            if (uid == 0)
            {
                return "/run/qcow2mount";
            }

            string? runtime = Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR");
            return runtime is { Length: > 0 } ? Path.Combine(runtime, "qcow2mount") : $"/tmp/qcow2mount-{uid}";
        }
    }

    public static string PathFor(string mountPoint)
    {
        string escaped = mountPoint.TrimStart('/').Replace("%", "%25", StringComparison.Ordinal).Replace("/", "%2F", StringComparison.Ordinal);
        return Path.Combine(DirectoryPath, (escaped.Length == 0 ? "%2F" : escaped) + ".pid");
    }

    public static void Write(string mountPoint)
    {
        Directory.CreateDirectory(DirectoryPath);
        File.WriteAllText(PathFor(mountPoint), Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + "\n");
    }

    /// <summary>The pid recorded for <paramref name="mountPoint"/> if that process still runs, else null.</summary>
    public static int? ReadLive(string mountPoint)
    {
        string path = PathFor(mountPoint);
        if (!File.Exists(path) || !int.TryParse(File.ReadAllText(path).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int pid))
        {
            return null;
        }

        return IsRunning(pid) ? pid : null;
    }

    public static void Delete(string mountPoint)
    {
        try
        {
            File.Delete(PathFor(mountPoint));
        }
        catch (IOException)
        {
            // A stale pid file is harmless: ReadLive checks the process.
        }
    }

    /// <summary>True while the process exists and has not exited (a zombie waiting for its reaper counts as exited).</summary>
    public static bool IsRunning(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            int close = stat.LastIndexOf(')');
            return close > 0 && close + 2 < stat.Length && stat[close + 2] is not ('Z' or 'X');
        }
        catch (IOException)
        {
            return false;
        }
    }
}
