namespace Qcow2Mount.Core.Interop;

/// <summary>
/// The libc functions the engine calls, one per file (<c>Libc.Stat.cs</c>, …). Linux only: callers check
/// <see cref="OperatingSystem.IsLinux"/> first and fall back to what .NET offers elsewhere.
/// </summary>
internal static partial class Libc
{
    internal const string LibraryName = "libc";
}
