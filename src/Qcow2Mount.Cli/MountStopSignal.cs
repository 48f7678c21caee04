using System.Runtime.InteropServices;
using Qcow2Mount.Fuse;

namespace Qcow2Mount.Cli;

/// <summary>
/// SIGINT, SIGTERM and SIGHUP end a mount cleanly: the runtime's default (kill the process, leave a dead
/// ENOTCONN mount) is cancelled and the host is asked to stop, which unmounts and lets the server flush (fuse-notes §9).
/// A signal that arrives before the host exists is remembered and applied when it is attached.
/// </summary>
internal sealed class MountStopSignal : IDisposable
{
    private readonly object _gate = new();
    private readonly PosixSignalRegistration[] _registrations;
    private FuseHost? _host;
    private bool _requested;

    public MountStopSignal()
    {
        _registrations =
        [
            PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal),
            PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal),
            PosixSignalRegistration.Create(PosixSignal.SIGHUP, OnSignal),
        ];
    }

    public bool Requested
    {
        get
        {
            lock (_gate)
            {
                return _requested;
            }
        }
    }

    public void Attach(FuseHost host)
    {
        bool stopNow;
        lock (_gate)
        {
            _host = host;
            stopNow = _requested;
        }

        if (stopNow)
        {
            host.RequestStop();
        }
    }

    public void Dispose()
    {
        foreach (var r in _registrations)
        {
            r.Dispose();
        }
    }

    private void OnSignal(PosixSignalContext context)
    {
        context.Cancel = true;
        FuseHost? host;
        lock (_gate)
        {
            _requested = true;
            host = _host;
        }

        host?.RequestStop();
    }
}
