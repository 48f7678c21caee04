using System.Runtime.InteropServices;

namespace Qcow2Mount.WinFsp.Interop;

internal static partial class User32
{
    [LibraryImport(LibraryName, EntryPoint = "MessageBoxW", StringMarshalling = StringMarshalling.Utf16)]
    internal static partial int MessageBox(nint owner, string text, string caption, uint type);
}
