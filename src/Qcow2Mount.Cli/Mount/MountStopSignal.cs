using System.Runtime.InteropServices;
using Qcow2Mount.Core.Hosting;

namespace Qcow2Mount.Cli.Mount;

/// <summary>
/// SIGINT, SIGTERM and SIGHUP (Ctrl-C, Ctrl-Break and closing the console on Windows) end a mount without pulling the
/// disk from under its users (the runtime's default kills the process and leaves a dead ENOTCONN mount; fuse-notes §9).
/// The first signal releases the mount (<see cref="IMount.Release"/>): the mount point is free at once, files that are
/// open — a loop device over the raw file counts — are served until the last is closed, then the server flushes and
/// exits. A second signal stops at once: flush, exit; requests still arriving on open files fail. A signal that
/// arrives before the mount exists is applied when it is attached.
/// </summary>
internal sealed class MountStopSignal : IDisposable
{
    private readonly object _gate = new();
    private readonly Action<string> _log;
    private readonly PosixSignalRegistration[] _registrations;
    private IMount? _mount;
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

    public void Attach(IMount mount)
    {
        int signals;
        lock (_gate)
        {
            _mount = mount;
            signals = _signals;
        }

        for (int i = 1; i <= Math.Min(signals, 2); i++)
        {
            Apply(mount, i);
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
        IMount? mount;
        int signals;
        lock (_gate)
        {
            signals = ++_signals;
            mount = _mount;
        }

        if (mount is not null)
        {
            Apply(mount, signals);
        }
    }

    private void Apply(IMount mount, int signal)
    {
        if (signal >= 2)
        {
            mount.Stop();
            return;
        }

        mount.Release();
        if (mount.IsServing)
        {
            _log($"{mount.MountPoint}: unmounted; still serving the files that are open (a loop device counts) until they are closed; signal again to stop now");
        }
    }
}
