using System.Runtime.InteropServices;

namespace Qcow2Mount.Fuse.Interop;

internal static partial class Libc
{
    /// <summary>Starts a new session (no controlling terminal); fails only for a process group leader.</summary>
    [LibraryImport(LibraryName, EntryPoint = "setsid", SetLastError = true)]
    public static partial int SetSid();
}
