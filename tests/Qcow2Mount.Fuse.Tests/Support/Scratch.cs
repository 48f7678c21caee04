using System.Globalization;

namespace Qcow2Mount.Fuse.Tests.Support;

/// <summary>
/// A temporary directory under /tmp for one test. Dispose takes down everything the test may have left there, even
/// after a failure: file system mounts on top of loop devices, the loop devices, our FUSE mounts (lazily) and their
/// server processes, then the files.
/// </summary>
internal sealed class Scratch : IDisposable
{
    public Scratch()
    {
        Root = TempDir.Create(root: Path.Combine("/tmp", "qcow2mount-tests"));
    }

    public string Root { get; }

    public string PathOf(string name) => Path.Combine(Root, name);

    public string NewDirectory(string name) => Directory.CreateDirectory(PathOf(name)).FullName;

    /// <summary>A file of <paramref name="size"/> bytes: random data (seeded) or sparse zeros.</summary>
    public string RawImage(string name, long size, int? seed = 1)
    {
        string path = PathOf(name);
        using var handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.Write);
        RandomAccess.SetLength(handle, size);
        if (seed is int s)
        {
            var random = new Random(s);
            var buffer = new byte[1 << 20];
            for (long offset = 0; offset < size; offset += buffer.Length)
            {
                random.NextBytes(buffer);
                RandomAccess.Write(handle, buffer.AsSpan(0, (int)Math.Min(buffer.Length, size - offset)), offset);
            }
        }

        return path;
    }

    public void Dispose()
    {
        foreach (var mount in MountsUnder(Root).Where(m => !m.Type.StartsWith("fuse", StringComparison.Ordinal)))
        {
            ProcessRunner.Capture("umount", "-l", mount.Point);
        }

        foreach (string line in ProcessRunner.Capture("losetup", "-l", "-n", "-O", "NAME,BACK-FILE").StandardOutput.Split('\n'))
        {
            string[] parts = line.Split(' ', 2, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (parts.Length == 2 && parts[1].StartsWith(Root, StringComparison.Ordinal))
            {
                ProcessRunner.Capture("losetup", "-d", parts[0]);
            }
        }

        foreach (var mount in MountsUnder(Root))
        {
            int? pid = ServerPid(mount.Point);
            ProcessRunner.Capture("umount", "-l", mount.Point);
            if (pid is int p)
            {
                KillServer(p);
            }
        }

        TempDir.Delete(Root); // a lazily detached mount may still hold a file for a moment: TempDir leaves it then
    }

    /// <summary>Mounts whose mount point is at or under <paramref name="root"/>, innermost first.</summary>
    public static IReadOnlyList<(string Point, string Type)> MountsUnder(string root) =>
        File.ReadAllLines("/proc/self/mounts")
            .Select(l => l.Split(' '))
            .Select(f => (Point: f[1].Replace("\\040", " ", StringComparison.Ordinal), Type: f[2]))
            .Where(m => m.Point == root || m.Point.StartsWith(root + "/", StringComparison.Ordinal))
            .Reverse()
            .ToArray();

    /// <summary>The name of the pid file our server writes for <paramref name="mountPoint"/> (in the pid file directory).</summary>
    public static string PidFileName(string mountPoint) =>
        mountPoint.TrimStart('/').Replace("%", "%25", StringComparison.Ordinal).Replace("/", "%2F", StringComparison.Ordinal) + ".pid";

    /// <summary>The pid our server recorded for <paramref name="mountPoint"/> (root's pid file directory).</summary>
    public static int? ServerPid(string mountPoint)
    {
        string file = Path.Combine("/run/qcow2mount", PidFileName(mountPoint));
        return File.Exists(file) && int.TryParse(File.ReadAllText(file).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int pid) ? pid : null;
    }

    /// <summary>
    /// kill -9 of a mount's background server (started by qcow2mount, not by the test, so no <see cref="BackgroundProcess"/>),
    /// returning once it is gone; false when it was gone already.
    /// </summary>
    public static bool KillServer(int pid)
    {
        System.Diagnostics.Process server;
        try
        {
            server = System.Diagnostics.Process.GetProcessById(pid);
        }
        catch (ArgumentException)
        {
            return false;
        }

        using (server)
        {
            server.Kill();
            if (!server.WaitForExit(10_000))
            {
                throw new ExternalCommandException($"the mount server {pid} survived kill -9");
            }
        }

        return true;
    }
}
