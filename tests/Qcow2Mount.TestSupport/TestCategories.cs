namespace Qcow2Mount.TestSupport;

/// <summary>
/// The NUnit categories every fixture (or every test of it) carries, so that a run can pick a kind:
/// <c>dotnet pwsh build.ps1 test -- --filter TestCategory=unit</c>. <see cref="CategoryAudit"/> fails a fixture without one.
/// </summary>
public static class TestCategories
{
    /// <summary>In-process only: no external program, no mount, no root; the whole set takes well under a minute.</summary>
    public const string Unit = "unit";

    /// <summary>Runs external programs (qemu-img and qemu-io as the oracle, the build scripts, …) but mounts nothing.</summary>
    public const string Qemu = "qemu";

    /// <summary>Mounts (FUSE, loop devices, file systems): needs root and /dev/fuse.</summary>
    public const string Mount = "mount";

    /// <summary>A fixture that takes more than about ten seconds (crash replay, fuzzing, packaging, Wine), on top of its other category.</summary>
    public const string Slow = "slow";

    /// <summary>Every category name, for the audit.</summary>
    public static IReadOnlyList<string> All { get; } = [Unit, Qemu, Mount, Slow];
}
