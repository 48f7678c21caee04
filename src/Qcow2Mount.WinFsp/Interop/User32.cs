namespace Qcow2Mount.WinFsp.Interop;

/// <summary>The one user32 function a console program started by a double-click needs: a message box for its error.</summary>
internal static partial class User32
{
    public const uint MbOk = 0x0;
    public const uint MbIconError = 0x10;
    public const uint MbSetForeground = 0x10000;

    private const string LibraryName = "user32.dll";
}
