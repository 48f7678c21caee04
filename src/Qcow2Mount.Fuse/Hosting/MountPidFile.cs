using System.Globalization;
using Qcow2Mount.Core.Hosting;
using Qcow2Mount.Fuse.Interop;
using FileStatus = Qcow2Mount.Core.Interop.FileStatus;

namespace Qcow2Mount.Fuse.Hosting;

/// <summary>
/// How <c>unmount</c> finds the server of a mount: the server writes its pid to
/// <c>/run/qcow2mount/ESCAPED-MOUNTPOINT.pid</c> (non-root: <c>$XDG_RUNTIME_DIR/qcow2mount</c>, else
/// <c>/tmp/qcow2mount-UID</c>) before it mounts and deletes it after its images are flushed and closed.
/// ESCAPED-MOUNTPOINT is the absolute path without its leading slash, '%' written as %25 and '/' as %2F.
/// Trust: the directory must be a real directory of the user's own that nobody else can write to (it ends up mode
/// 0700) — in /tmp another user could create it first and plant symlinks (the mount would overwrite any file of the
/// user with its pid) or pid files (unmount would wait for a process of their choice). Anything else is refused with
/// a one-line <see cref="MountFailedException"/>. Inside it a pid file is created new (O_EXCL, never through a symlink)
/// and renamed into place, and read only if it is a regular file of the user's.
/// </summary>
internal static class MountPidFile
{
    private const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

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

    /// <summary>Creates the directory if it is missing and checks it can be trusted (the mount's preflight).</summary>
    public static void CheckDirectory() => _ = TrustedDirectory(create: true);

    /// <summary>
    /// Records this process as the server of <paramref name="mountPoint"/> (replacing a stale record); disposing the
    /// result deletes the record if it is still this process's.
    /// </summary>
    public static IDisposable Write(string mountPoint)
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("pid files are kept on Linux only");
        }

        _ = TrustedDirectory(create: true);
        string path = PathFor(mountPoint);
        string pid = Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        string temporary = $"{path}.{pid}.new";
        bool created = false;
        try
        {
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite };
            using (var file = new FileStream(temporary, options))
            {
                created = true;
                file.Write(System.Text.Encoding.ASCII.GetBytes(pid + "\n"));
            }

            File.Move(temporary, path, overwrite: true); // rename(2): replaces whatever the name was, never follows it
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            if (created)
            {
                File.Delete(temporary);
            }

            throw new MountFailedException($"{path}: cannot write the pid file: {e.Message}");
        }

        return new Record(mountPoint);
    }

    /// <summary>The pid recorded for <paramref name="mountPoint"/> if that process still runs and is a qcow2mount, else null.</summary>
    public static int? ReadLive(string mountPoint)
    {
        if (TrustedDirectory(create: false) is null)
        {
            return null;
        }

        int? pid = Read(PathFor(mountPoint));
        return pid is int p && IsRunning(p) && IsQcow2Mount(p) ? p : null;
    }

    /// <summary>The pid of a server killed long ago may belong to another program by now: it is not waited for.</summary>
    private static bool IsQcow2Mount(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Contains("qcow2mount", StringComparison.Ordinal);
        }
        catch (IOException)
        {
            return false;
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

    /// <summary>The pid in a regular file of ours at <paramref name="path"/> (not a symlink, not someone else's), or null.</summary>
    private static int? Read(string path)
    {
        if (FileStatus.Get(path, followLinks: false, out var status) != 0 || status.Type != FileStatus.S_IFREG || status.Uid != Libc.GetEUid())
        {
            return null;
        }

        try
        {
            string text = File.ReadAllText(path);
            return int.TryParse(text.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int pid) ? pid : null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>
    /// The pid-file directory once it is a real directory owned by us that nobody else can write to (tightened to
    /// 0700 when <paramref name="create"/>); null when it does not exist and <paramref name="create"/> is false.
    /// Because nobody else can write to it or (in a sticky /tmp) rename it, it stays trustworthy once checked.
    /// </summary>
    private static string? TrustedDirectory(bool create)
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("pid files are kept on Linux only");
        }

        string directory = DirectoryPath;
        if (create && FileStatus.Get(directory, followLinks: false, out _) != 0)
        {
            try
            {
                Directory.CreateDirectory(directory, Private);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new MountFailedException($"{directory}: cannot create the pid file directory: {e.Message}");
            }
        }

        int errno = FileStatus.Get(directory, followLinks: false, out var status);
        if (errno == Errno.ENOENT && !create)
        {
            return null;
        }

        uint uid = Libc.GetEUid();
        if (errno != 0 || status.Type != FileStatus.S_IFDIR || status.Uid != uid || (status.Permissions & 0x12 /* 022 */) != 0)
        {
            string what = errno != 0 ? System.Runtime.InteropServices.Marshal.GetPInvokeErrorMessage(errno)
                : status.Type == FileStatus.S_IFLNK ? "a symbolic link"
                : $"owner uid {status.Uid}, mode {Convert.ToString(status.Permissions, 8)}{(status.Type == FileStatus.S_IFDIR ? "" : ", not a directory")}";
            throw new MountFailedException(
                $"{directory}: not a private directory of yours ({what}), so it cannot hold qcow2mount's pid files: have it removed, or set XDG_RUNTIME_DIR to a directory of your own");
        }

        if (create && (status.Permissions & 0x3F /* 077 */) != 0)
        {
            File.SetUnixFileMode(directory, Private);
        }

        return directory;
    }

    /// <summary>Deletes the pid file when it still names this process (a newer server of the same mount point keeps its own).</summary>
    private sealed class Record(string mountPoint) : IDisposable
    {
        public void Dispose()
        {
            string path = PathFor(mountPoint);
            if (Read(path) == Environment.ProcessId)
            {
                try
                {
                    File.Delete(path);
                }
                catch (IOException)
                {
                    // A stale pid file is harmless: ReadLive checks the process.
                }
            }
        }
    }
}
