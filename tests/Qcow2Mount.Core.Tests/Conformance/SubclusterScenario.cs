namespace Qcow2Mount.Core.Tests.Conformance;

/// <summary>
/// A short operation sequence for the subcluster comparison: <see cref="Setup"/> (qemu-io commands, run on the image
/// before it is copied for both sides — e.g. compressed writes, which only QEMU makes) and <see cref="Steps"/>
/// (run by qemu-io on one copy and by the engine on the other). Both are functions of the cluster size.
/// </summary>
public sealed record SubclusterScenario(string Name, Func<long, string[]> Setup, Func<long, ScenarioStep[]> Steps)
{
    public override string ToString() => Name;

    /// <summary>The scenario table: every subcluster-state transition the write path has (qemu-behaviour.md §3–§5).</summary>
    public static IReadOnlyList<SubclusterScenario> All { get; } = Build();

    private static List<SubclusterScenario> Build()
    {
        static string[] None(long c) => [];
        static string[] FillCluster1(long c) => [$"write -P 0x61 {c} {c}"];
        static ScenarioStep W(long offset, long length, int seed = 1) => ScenarioStep.Write(offset, length, seed);
        static ScenarioStep Z(long offset, long length, bool unmap = false) => ScenarioStep.Zero(offset, length, unmap);
        static ScenarioStep D(long offset, long length) => ScenarioStep.Discard(offset, length);
        static long Sc(long c) => c / 32;

        return
        [
            new("1 KiB write inside one subcluster", None, c => [W((5 * Sc(c)) + 512, 1024)]),
            new("write of exactly one subcluster", None, c => [W(7 * Sc(c), Sc(c))]),
            new("unaligned write across three subclusters", None, c => [W((4 * Sc(c)) + 300, (2 * Sc(c)) + 100)]),
            new("write of a whole cluster", None, c => [W(c, c)]),
            new("unaligned write across four clusters", None, c => [W(c + (3 * Sc(c)) + 100, (2 * c) + 5000)]),
            new("in-place rewrite of allocated subclusters", c => [$"write -P 0x62 0 {c}"], c => [W((3 * Sc(c)) + 5, 100)]),
            new("write next to allocated subclusters", c => [$"write -P 0x63 0 {4 * Sc(c)}"], c => [W(10 * Sc(c), 1000)]),
            new("zero write of one subcluster, fresh cluster", None, c => [Z(9 * Sc(c), Sc(c))]),
            new("zero write of one subcluster, allocated cluster", FillCluster1, c => [Z(c + (9 * Sc(c)), Sc(c))]),
            new("zero write of four subclusters, allocated cluster", FillCluster1, c => [Z(c + (2 * Sc(c)), 4 * Sc(c))]),
            new("unaligned zero write, fresh cluster", None, c => [Z(c + 1024, 5000)]),
            new("unaligned zero write, allocated cluster", FillCluster1, c => [Z(c + 1024, 5000)]),
            new("zero write of a whole fresh cluster", None, c => [Z(c, c)]),
            new("zero write of a whole allocated cluster", FillCluster1, c => [Z(c, c)]),
            new("zero write with unmap of a whole allocated cluster", FillCluster1, c => [Z(c, c, unmap: true)]),
            new("zero write across clusters with partial head and tail", None, c => [Z((2 * c) + (15 * Sc(c)) + (Sc(c) / 2), 2 * c)]),
            new("discard of a whole allocated cluster", FillCluster1, c => [D(c, c)]),
            new("discard of a whole fresh cluster", None, c => [D(c, c)]),
            new("unaligned discard inside an allocated cluster", FillCluster1, c => [D(c + 1000, 3000)]),
            new("subcluster-aligned discard inside an allocated cluster", FillCluster1, c => [D(c + (2 * Sc(c)), 4 * Sc(c))]),
            new("write after a whole-cluster zero write", None, c => [Z(c, c), W(c + (3 * Sc(c)) + 10, 1024)]),
            new("write after discard", FillCluster1, c => [D(c, c), W(c + 100, 200)]),
            new("write over part of a zeroed allocated cluster", c => [$"write -P 0x64 0 {c}", $"write -z 0 {c}"], c => [W(2 * Sc(c), 3 * Sc(c))]),
            new("write after a partial zero write", None, c => [Z(c + (2 * Sc(c)), 4 * Sc(c)), W(c + (3 * Sc(c)) + 100, 1000)]),
            new("unaligned write over allocated, zeroed and unallocated subclusters", c => [$"write -P 0x69 0 {4 * Sc(c)}", $"write -z {6 * Sc(c)} {2 * Sc(c)}"], c => [W((3 * Sc(c)) + 50, 6 * Sc(c))]),
            new("two half-cluster writes filling one cluster", None, c => [W(c, 16 * Sc(c)), W(c + (16 * Sc(c)), 16 * Sc(c))]),
            new("discard after a partial zero write", None, c => [Z(c + (5 * Sc(c)), 3 * Sc(c)), D(c, c)]),
            new("partial overwrite of a compressed cluster", c => [$"write -c -P 0x65 0 {c}"], c => [W(100, 1024)]),
            new("partial zero write into a compressed cluster", c => [$"write -c -P 0x66 0 {c}"], c => [Z(2 * Sc(c), 4 * Sc(c))]),
            new("zero write of a whole compressed cluster", c => [$"write -c -P 0x67 {c} {c}"], c => [Z(c, c)]),
            new("discard of a whole compressed cluster", c => [$"write -c -P 0x68 {c} {c}"], c => [D(c, c)]),
        ];
    }
}
