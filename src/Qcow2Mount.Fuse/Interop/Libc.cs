namespace Qcow2Mount.Fuse.Interop;

/// <summary>
/// The libc functions the FUSE shim and its Linux mount host call, one per file (<c>Libc.Read.cs</c>, …). stat lives
/// in Core (<c>Qcow2Mount.Core.Interop.FileStatus</c>), the one reading of <c>struct stat</c>.
/// </summary>
internal static partial class Libc
{
    private const string LibraryName = "libc";
}
