using System.Globalization;

namespace Qcow2Mount.Fuse.Tests.Support;

/// <summary>
/// The kernel's FUSE-over-io_uring switch (<c>/sys/module/fuse/parameters/enable_uring</c>, root only; it decides what
/// new connections are offered) and what a server process did with its rings (<c>/proc/PID/fdinfo</c>).
/// </summary>
internal sealed class KernelFuseUring : IDisposable
{
    private const string Switch = "/sys/module/fuse/parameters/enable_uring";

    private readonly string _saved;

    private KernelFuseUring(string saved) => _saved = saved;

    public static bool Supported => File.Exists(Switch);

    /// <summary>Sets the switch for new mounts; Dispose puts the old value back.</summary>
    public static KernelFuseUring Set(bool enabled)
    {
        var state = new KernelFuseUring(File.ReadAllText(Switch).Trim());
        File.WriteAllText(Switch, enabled ? "Y" : "N");
        return state;
    }

    public void Dispose() => File.WriteAllText(Switch, _saved);

    /// <summary>
    /// The process's io_uring instances (anon_inode:[io_uring] descriptors) and the completions they have posted in all
    /// (CqTail in fdinfo): one per FUSE request answered over a ring, plus one per ring entry that ended.
    /// </summary>
    public static (int Rings, long Completions) RingsOf(int pid)
    {
        int rings = 0;
        long completions = 0;
        foreach (string fd in Directory.GetFiles($"/proc/{pid}/fd"))
        {
            string? target;
            try
            {
                target = new FileInfo(fd).LinkTarget;
            }
            catch (IOException)
            {
                continue; // closed meanwhile
            }

            if (target != "anon_inode:[io_uring]")
            {
                continue;
            }

            rings++;
            foreach (string line in File.ReadLines($"/proc/{pid}/fdinfo/{Path.GetFileName(fd)}"))
            {
                if (line.StartsWith("CqTail:", StringComparison.Ordinal))
                {
                    completions += long.Parse(line["CqTail:".Length..].Trim(), CultureInfo.InvariantCulture);
                }
            }
        }

        return (rings, completions);
    }
}
