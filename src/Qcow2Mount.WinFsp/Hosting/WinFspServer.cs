using System.Globalization;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using Qcow2Mount.WinFsp.Interop;

namespace Qcow2Mount.WinFsp.Hosting;

/// <summary>
/// This process as the server of one mount (<see cref="WinFspMountHost.BeginServing"/>), from before the images are
/// opened until after they are closed. Every way of ending the mount sets one named event, <see cref="StopEvent"/>
/// (Local\Qcow2Mount.Stop.PID.TICKS: this logon session only, and the creator's default DACL): <c>qcow2mount unmount</c>
/// and the "Unmount" verb from another process, and the console's control handler — Ctrl+C, Ctrl+Break, closing the
/// window, logoff, shutdown. The mount waits on it, then flushes and closes the images on its own thread. For closing,
/// logoff and shutdown Windows ends the process as soon as the handler returns, so the handler waits (up to
/// <see cref="CloseGrace"/>) until <see cref="Dispose"/> says the images are closed. The event lives until Dispose,
/// which is how other processes tell a live mount from a stale record (<see cref="MountRecords"/>).
/// </summary>
[SupportedOSPlatform("windows")]
internal sealed unsafe class WinFspServer : IDisposable
{
    /// <summary>
    /// Longest wait of the control handler for the images to close. Windows itself gives a closing console about
    /// 5 s and logoff/shutdown its own timeout; it kills the process when that ends, whatever the handler does.
    /// </summary>
    public static readonly TimeSpan CloseGrace = TimeSpan.FromSeconds(30);

    private static readonly object Gate = new();
    private static WinFspServer? _current;

    private readonly ManualResetEventSlim _closed = new();
    private bool _disposed;

    public WinFspServer()
    {
        StopEventName = string.Create(CultureInfo.InvariantCulture, $@"Local\Qcow2Mount.Stop.{Environment.ProcessId}.{DateTime.UtcNow.Ticks}");
        StopEvent = new EventWaitHandle(false, EventResetMode.ManualReset, StopEventName, out bool created);
        if (!created)
        {
            StopEvent.Dispose();
            throw new InvalidOperationException($"{StopEventName} exists already");
        }

        lock (Gate)
        {
            if (_current is not null)
            {
                StopEvent.Dispose();
                throw new InvalidOperationException("this process serves a mount already");
            }

            _current = this;
        }

        // No console (started without one): nothing to handle, and the call fails harmlessly.
        _ = Kernel32.SetConsoleCtrlHandler(&OnConsoleControl, 1);
    }

    public string StopEventName { get; }

    /// <summary>Set by every stop request; manual reset, so a request made before the mount exists is not lost.</summary>
    public EventWaitHandle StopEvent { get; }

    /// <summary>The images are closed: lets a waiting control handler return (and Windows end the process).</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _closed.Set();
        lock (Gate)
        {
            _current = null;
        }

        StopEvent.Dispose();
    }

    /// <summary>The console's HandlerRoutine: ask for the stop; for events after which Windows kills the process, wait for the close.</summary>
    [UnmanagedCallersOnly]
    private static int OnConsoleControl(uint controlType)
    {
        WinFspServer? server;
        lock (Gate)
        {
            server = _current;
        }

        if (server is null || controlType is not (Kernel32.CtrlCEvent or Kernel32.CtrlBreakEvent or Kernel32.CtrlCloseEvent
            or Kernel32.CtrlLogoffEvent or Kernel32.CtrlShutdownEvent))
        {
            return 0;
        }

        try
        {
            server.StopEvent.Set();
            if (controlType is Kernel32.CtrlCloseEvent or Kernel32.CtrlLogoffEvent or Kernel32.CtrlShutdownEvent)
            {
                server._closed.Wait(CloseGrace);
            }
        }
        catch (ObjectDisposedException)
        {
            // The server ended while the event arrived: the images are closed already.
        }

        return 1;
    }
}
