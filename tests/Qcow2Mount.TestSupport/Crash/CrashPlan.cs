namespace Qcow2Mount.TestSupport.Crash;

/// <summary>
/// One crash state to build: the power fails just before operation <see cref="CrashIndex"/> of the log takes effect
/// (a flush, or the end of the log), and of the operations issued since each file's last flush the ones
/// <see cref="Persistence"/> picks survive (random choices drawn from <see cref="Seed"/>; for
/// <see cref="CrashPersistence.Exact"/> its bits name the surviving units, in issue order across files).
/// </summary>
public sealed record CrashPlan(int CrashIndex, CrashPersistence Persistence, int Seed);
