using System.Runtime.InteropServices;

namespace Qcow2Mount.Cli.Interop;

/// <summary>libc's access(2): may the calling user read, write or run a file (permissions, ACLs, read-only mounts).</summary>
internal static partial class Libc
{
    /// <summary>access mode: may write.</summary>
    public const int W_OK = 2;

    /// <summary>0 if the real user may access <paramref name="path"/> as <paramref name="mode"/> asks, else -1 (errno says why).</summary>
    [LibraryImport("libc", EntryPoint = "access", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int Access(string path, int mode);
}
