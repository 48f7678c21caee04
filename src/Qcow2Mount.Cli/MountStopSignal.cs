using System.Runtime.InteropServices;
using Qcow2Mount.Fuse;

namespace Qcow2Mount.Cli;

/// <summary>
/// SIGINT, SIGTERM and SIGHUP end a mount without pulling the disk from under its users (the runtime's default kills
/// the process and leaves a dead ENOTCONN mount; fuse-notes §9). The first signal detaches the mount lazily: the mount
/// point is free at once, files that are open — a loop device over the raw file counts — are served until the last
/// is closed, then the server flushes and exits. A second signal stops at once: flush, exit; requests still arriving
/// on open files get ENOTCONN. A signal that arrives before the host exists is applied when it is attached.
/// </summary>
internal sealed class MountStopSignal : IDisposable
{
    private readonly object _gate = new();
    private readonly Action<string> _log;
    private readonly PosixSignalRegistration[] _registrations;
    private FuseHost? _host;
    private int _signals;

    public MountStopSignal(Action<string> log)
    {
        _log = log;
        _registrations =
        [
            PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal),
            PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal),
            PosixSignalRegistration.Create(PosixSignal.SIGHUP, OnSignal),
        ];
    }

    public void Attach(FuseHost host)
    {
        int signals;
        lock (_gate)
        {
            _host = host;
            signals = _signals;
        }

        for (int i = 1; i <= Math.Min(signals, 2); i++)
        {
            Apply(host, i);
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
        int signals;
        lock (_gate)
        {
            signals = ++_signals;
            host = _host;
        }

        if (host is not null)
        {
            Apply(host, signals);
        }
    }

    private void Apply(FuseHost host, int signal)
    {
        if (signal >= 2)
        {
            host.Stop();
            return;
        }

        host.Detach();
        if (host.Connected)
        {
            _log($"{host.MountPoint}: unmounted; still serving the files that are open (a loop device counts) until they are closed; signal again to stop now");
        }
    }
}
