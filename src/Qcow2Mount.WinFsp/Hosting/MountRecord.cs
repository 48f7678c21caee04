namespace Qcow2Mount.WinFsp.Hosting;

/// <summary>
/// One mount served by a qcow2mount process of this user: where, the images it shows (in order), and the name of the
/// event that asks its server to unmount. Kept as a small text file in <see cref="MountRecords"/>.
/// </summary>
internal sealed record MountRecord(string MountPoint, string StopEventName, IReadOnlyList<string> Images);
