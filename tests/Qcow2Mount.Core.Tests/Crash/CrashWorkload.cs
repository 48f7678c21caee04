namespace Qcow2Mount.Core.Tests.Crash;

/// <summary>
/// A workload for the crash replay: <see cref="Prepare"/> makes the image with QEMU's tools (image path, data file
/// path or null), <see cref="Run"/> changes it through the engine. <see cref="Snapshot"/> names an internal snapshot
/// whose content must survive every crash. <see cref="Exercised"/> (image file before, after) confirms the run took
/// the path the workload is named for.
/// </summary>
internal sealed record CrashWorkload(
    string Name,
    Action<string, string?> Prepare,
    Action<CrashSession> Run,
    ImageOpenOptions Options,
    bool DataFile = false,
    string? Snapshot = null,
    Func<byte[], byte[], bool>? Exercised = null)
{
    public override string ToString() => Name;
}
