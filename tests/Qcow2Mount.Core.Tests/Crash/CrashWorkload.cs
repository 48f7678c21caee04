namespace Qcow2Mount.Core.Tests.Crash;

/// <summary>
/// A workload for the crash replay: <see cref="Prepare"/> makes the image with QEMU's tools (image path, data file
/// path or null), <see cref="Run"/> changes it through the engine. <see cref="Snapshot"/> names an internal snapshot
/// whose content must survive every crash.
/// </summary>
internal sealed record CrashWorkload(
    string Name,
    Action<string, string?> Prepare,
    Action<CrashSession> Run,
    ImageOpenOptions Options,
    bool DataFile = false,
    string? Snapshot = null)
{
    public override string ToString() => Name;
}
