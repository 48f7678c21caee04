namespace Qcow2Mount.WinFsp.Interop;

/// <summary>The registry functions the DLL lookup needs (plain exports of advapi32, no Microsoft.Win32.Registry), one per file.</summary>
internal static partial class Advapi32
{
    /// <summary>HKEY_LOCAL_MACHINE: (HKEY)(LONG)0x80000002, sign-extended to pointer size.</summary>
    public static readonly nint LocalMachine = unchecked((int)0x80000002);

    public const uint KeyQueryValue = 0x0001;

    /// <summary>Open the 32-bit view of the key (HKLM\SOFTWARE\WOW6432Node on 64-bit Windows), where WinFsp's MSI writes.</summary>
    public const uint KeyWow6432 = 0x0200;

    public const uint RrfRtRegSz = 0x00000002;
    public const int ErrorSuccess = 0;
    public const int ErrorFileNotFound = 2;
    public const int ErrorMoreData = 234;

    private const string LibraryName = "advapi32.dll";
}
