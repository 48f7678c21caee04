namespace Qcow2Mount.WinFsp.Interop;

/// <summary>
/// The exports of winfsp-x64.dll the shim calls (C convention, UTF-16 strings). The library name is logical:
/// <see cref="WinFspLibrary"/> maps it to the DLL found through WinFsp's registry key. One export per file
/// (<c>WinFspNative.FspFileSystemCreate.cs</c>, …).
/// </summary>
internal static unsafe partial class WinFspNative
{
    internal const string LibraryName = "winfsp";
}
