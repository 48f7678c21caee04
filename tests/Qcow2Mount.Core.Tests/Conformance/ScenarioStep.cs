using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Core.Tests.Conformance;

/// <summary>One guest operation of a <see cref="SubclusterScenario"/>, applied identically to the engine and to <see cref="QemuIoDisk"/>.</summary>
public sealed record ScenarioStep(WorkloadOperationKind Kind, long Offset, long Length, bool MayUnmap = false, int Seed = 0)
{
    public static ScenarioStep Write(long offset, long length, int seed) => new(WorkloadOperationKind.Write, offset, length, Seed: seed);

    public static ScenarioStep Zero(long offset, long length, bool mayUnmap = false) => new(WorkloadOperationKind.WriteZeroes, offset, length, mayUnmap);

    public static ScenarioStep Discard(long offset, long length) => new(WorkloadOperationKind.Discard, offset, length);

    public void ApplyTo(Qcow2Mount.Core.IVirtualDisk disk)
    {
        switch (Kind)
        {
            case WorkloadOperationKind.Write:
                var data = new byte[Length];
                new Random(Seed).NextBytes(data);
                disk.Write(Offset, data);
                break;
            case WorkloadOperationKind.WriteZeroes:
                disk.WriteZeroes(Offset, Length, MayUnmap);
                break;
            case WorkloadOperationKind.Discard:
                disk.Discard(Offset, Length);
                break;
            default:
                disk.Flush();
                break;
        }
    }

    public override string ToString() => Kind switch
    {
        WorkloadOperationKind.Write => $"Write({Offset}, {Length})",
        WorkloadOperationKind.WriteZeroes => $"WriteZeroes({Offset}, {Length}, mayUnmap: {MayUnmap})",
        WorkloadOperationKind.Discard => $"Discard({Offset}, {Length})",
        _ => "Flush()",
    };
}
