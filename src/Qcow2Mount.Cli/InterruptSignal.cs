using System.Runtime.InteropServices;

namespace Qcow2Mount.Cli;

/// <summary>
/// Ctrl+C (SIGINT) and SIGTERM during a long tool run: the runtime's default (kill the process mid-write of the
/// progress line) is cancelled and <see cref="Token"/> is cancelled instead, so the verb stops between two pieces,
/// closes its images and exits with <see cref="ExitCode"/>.
/// </summary>
internal sealed class InterruptSignal : IDisposable
{
    /// <summary>The shell's status for a command ended by SIGINT (128 + 2).</summary>
    public const int ExitCode = 130;

    private readonly CancellationTokenSource _source = new();
    private readonly PosixSignalRegistration[] _registrations;

    public InterruptSignal()
    {
        _registrations =
        [
            PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal),
            PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal),
        ];
    }

    public CancellationToken Token => _source.Token;

    public void Dispose()
    {
        foreach (var r in _registrations)
        {
            r.Dispose();
        }

        _source.Dispose();
    }

    private void OnSignal(PosixSignalContext context)
    {
        context.Cancel = true;
        _source.Cancel();
    }
}
