using Qcow2Mount.Fuse.Interop;

namespace Qcow2Mount.Fuse.Hosting;

/// <summary>
/// Descriptors above stderr that this process inherited from its caller. The runtime and this program open every
/// descriptor close-on-exec, so a descriptor without that flag was inherited (a shell's redirection, a pipe of the
/// program that started us). A background server closes them: it must not keep its caller's pipes or files open for
/// as long as the mount lives. A foreground server leaves them to its caller but keeps its own children
/// (fusermount3) from inheriting them.
/// </summary>
internal static class InheritedDescriptors
{
    public static void Close()
    {
        foreach (int fd in Find())
        {
            _ = Libc.Close(fd);
        }
    }

    public static void MarkCloseOnExec()
    {
        foreach (int fd in Find())
        {
            _ = Libc.Fcntl(fd, Libc.F_SETFD, Libc.FD_CLOEXEC);
        }
    }

    private static List<int> Find()
    {
        var inherited = new List<int>();
        foreach (string entry in Directory.GetFileSystemEntries("/proc/self/fd"))
        {
            if (int.TryParse(Path.GetFileName(entry), out int fd) && fd > 2)
            {
                int flags = Libc.Fcntl(fd, Libc.F_GETFD, 0);
                if (flags >= 0 && (flags & Libc.FD_CLOEXEC) == 0)
                {
                    inherited.Add(fd);
                }
            }
        }

        return inherited;
    }
}
