namespace Qcow2Mount.WinFsp.Interop;

/// <summary>The console functions a mount that may run in its own console window needs, one per file.</summary>
internal static partial class Kernel32
{
    /// <summary>Console control events (wincon.h): Ctrl+C, Ctrl+Break, the window closed, the user logging off, shutdown.</summary>
    public const uint CtrlCEvent = 0;
    public const uint CtrlBreakEvent = 1;
    public const uint CtrlCloseEvent = 2;
    public const uint CtrlLogoffEvent = 5;
    public const uint CtrlShutdownEvent = 6;

    private const string LibraryName = "kernel32.dll";
}
