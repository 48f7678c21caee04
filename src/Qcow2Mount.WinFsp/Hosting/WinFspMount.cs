using System.Runtime.Versioning;
using Qcow2Mount.Core.Hosting;
using Qcow2Mount.Core.Vfs;

namespace Qcow2Mount.WinFsp.Hosting;

/// <summary>
/// A live WinFsp mount. WinFsp has no lazy unmount: <see cref="Release"/> and <see cref="Stop"/> both end
/// <see cref="Serve"/>, and the teardown in <see cref="Dispose"/> (StopDispatcher, flush, RemoveMountPoint, Delete)
/// makes open handles fail. Serve also returns when WinFsp stops the dispatcher on its own (driver unloaded).
/// </summary>
[SupportedOSPlatform("windows")]
internal sealed class WinFspMount : IMount
{
    private readonly WinFspHost _host;
    private readonly WinFspServer _server;
    private string? _record;
    private volatile bool _stopping;

    public WinFspMount(WinFspHost host, IVirtualFileSystem fileSystem, WinFspServer server)
    {
        _host = host;
        _server = server;
        FileSystem = fileSystem;
        MountPoint = host.MountPoint ?? throw new InvalidOperationException("not mounted");
    }

    public string MountPoint { get; }

    public IVirtualFileSystem FileSystem { get; }

    public bool IsServing => !_stopping;

    /// <summary>Records the mount for <c>unmount</c> and a second double-click (<see cref="MountRecords"/>).</summary>
    public void Record() =>
        _record = MountRecords.Write(new MountRecord(MountPoint, _server.StopEventName, FileSystem.Files.Select(f => f.SourcePath).ToArray()));

    public void Serve()
    {
        WaitHandle.WaitAny([_server.StopEvent, _host.Stopped]);
        _stopping = true;
    }

    public void Release() => Stop();

    public void Stop()
    {
        _stopping = true;
        _server.StopEvent.Set();
    }

    /// <summary>
    /// Forgets the record, then takes the mount down (the images stay open: the caller closes them).
    /// </summary>
    public void Dispose()
    {
        _stopping = true;
        if (_record is not null)
        {
            MountRecords.Delete(_record);
            _record = null;
        }

        try
        {
            _host.Unmount();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // WinFspHost logged the flush failure; the caller's close of the images flushes again and reports it.
        }
    }
}
