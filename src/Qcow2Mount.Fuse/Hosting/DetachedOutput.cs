using Microsoft.Win32.SafeHandles;
using Qcow2Mount.Core.Hosting;
using Qcow2Mount.Fuse.Interop;

namespace Qcow2Mount.Fuse.Hosting;

/// <summary>
/// Where a background server's stdin, stdout and stderr go once it serves: /dev/null, and the log file for stdout and
/// stderr when there is one. Opened before the mount, so nothing that can fail is left for the ready report:
/// <see cref="ReportReady"/> only writes the ready line and moves descriptors that are already open.
/// </summary>
internal sealed class DetachedOutput : IBackgroundServer
{
    private readonly SafeFileHandle _null;
    private readonly SafeFileHandle? _log;

    private DetachedOutput(SafeFileHandle nul, SafeFileHandle? log)
    {
        _null = nul;
        _log = log;
    }

    public static DetachedOutput Open(string? logFile)
    {
        var nul = File.OpenHandle("/dev/null", FileMode.Open, FileAccess.ReadWrite);
        if (logFile is null)
        {
            return new DetachedOutput(nul, null);
        }

        try
        {
            return new DetachedOutput(nul, File.OpenHandle(logFile, FileMode.Append, FileAccess.Write, FileShare.ReadWrite));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            nul.Dispose();
            string why = e is DirectoryNotFoundException ? "its directory does not exist" : e.Message;
            throw new MountFailedException($"log file {logFile}: cannot open it: {why}");
        }
    }

    /// <summary>Tells the parent the mount serves (the lines before it name the raw files), then drops the pipes.</summary>
    public void ReportReady()
    {
        Console.Out.WriteLine(BackgroundMounting.ReadyLine);
        Console.Out.Flush();
        int nul = (int)_null.DangerousGetHandle();
        int output = _log is null ? nul : (int)_log.DangerousGetHandle();
        _ = Libc.Dup2(nul, 0);
        _ = Libc.Dup2(output, 1);
        _ = Libc.Dup2(output, 2);
        Dispose();
    }

    /// <summary>"/": the command's working directory may be on a file system someone wants to unmount.</summary>
    public void LeaveWorkingDirectory() => Directory.SetCurrentDirectory("/");

    public void Dispose()
    {
        _null.Dispose();
        _log?.Dispose();
    }
}
