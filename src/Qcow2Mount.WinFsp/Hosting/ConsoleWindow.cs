using System.Runtime.Versioning;
using Qcow2Mount.WinFsp.Interop;

namespace Qcow2Mount.WinFsp.Hosting;

/// <summary>
/// Whether this console program runs in a console window of its own — what Windows makes for a program started by
/// Explorer (a double-click, a verb of the .qcow2 menu) — and the message box its errors then need: the window
/// closes with the program, so a line printed there is never read.
/// </summary>
[SupportedOSPlatform("windows")]
internal static unsafe class ConsoleWindow
{
    /// <summary>
    /// True when no other process shares this console (so it was made for this program, and closes with it) and the
    /// error output goes to it rather than to a file or pipe (a script or a test reads those).
    /// </summary>
    public static bool IsOwn() => IsOwn(ConsoleProcessCount(), Console.IsErrorRedirected);

    /// <summary>The rule of <see cref="IsOwn()"/>, from its two facts.</summary>
    internal static bool IsOwn(uint consoleProcesses, bool errorRedirected) => consoleProcesses == 1 && !errorRedirected;

    /// <summary>A modal error box titled "Qcow2Mount" with <paramref name="message"/>; returns when the user closes it.</summary>
    public static void ShowError(string message) =>
        _ = User32.MessageBox(0, message, "Qcow2Mount", User32.MbOk | User32.MbIconError | User32.MbSetForeground);

    private static uint ConsoleProcessCount()
    {
        uint* ids = stackalloc uint[4];
        return Kernel32.GetConsoleProcessList(ids, 4);
    }
}
