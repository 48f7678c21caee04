namespace Qcow2Mount.Cli;

/// <summary>
/// qemu-img's progress line, "    (12.34/100%)" rewritten in place with a carriage return, shown only when stdout
/// is a terminal (a log file or pipe gets the verdict alone).
/// </summary>
internal sealed class ProgressLine
{
    private readonly bool _enabled;
    private int _last = -1;

    public ProgressLine(bool requested)
    {
        _enabled = requested && !Console.IsOutputRedirected;
    }

    /// <summary>Shows <paramref name="fraction"/> (0..1) when its hundredths of a percent changed.</summary>
    public void Report(double fraction)
    {
        if (!_enabled)
        {
            return;
        }

        int hundredths = (int)(Math.Clamp(fraction, 0, 1) * 10000);
        if (hundredths != _last)
        {
            _last = hundredths;
            Console.Write(FormattableString.Invariant($"    ({hundredths / 100.0:F2}/100%)\r"));
        }
    }

    /// <summary>Ends the line so that what follows starts on a fresh one.</summary>
    public void Finish()
    {
        if (_enabled && _last >= 0)
        {
            Console.WriteLine();
        }
    }
}
