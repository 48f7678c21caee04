namespace Qcow2Mount.Core.Hosting;

/// <summary>The server side of <see cref="IBackgroundMounting"/>.</summary>
public interface IBackgroundServer : IDisposable
{
    /// <summary>Once the images are open: stop using the command's working directory (it may be on a file system someone wants to unmount).</summary>
    void LeaveWorkingDirectory();

    /// <summary>Tells the waiting command the mount serves (what was printed before is its output), then drops the connection to it.</summary>
    void ReportReady();
}
