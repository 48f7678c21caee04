namespace Qcow2Mount.TestSupport;

/// <summary>One step of a <see cref="RandomWorkload"/>; write data is derived from <see cref="DataSeed"/> so a step can be replayed alone.</summary>
public sealed record WorkloadOperation(int Index, WorkloadOperationKind Kind, long Offset, long Length, bool MayUnmap = false, int DataSeed = 0, WorkloadData DataShape = WorkloadData.Random)
{
    /// <summary>The bytes a <see cref="WorkloadOperationKind.Write"/> writes (deterministic).</summary>
    public byte[] Data()
    {
        var data = new byte[Length];
        var random = new Random(DataSeed);
        switch (DataShape)
        {
            case WorkloadData.Random:
                random.NextBytes(data);
                break;
            case WorkloadData.Fill:
                Array.Fill(data, (byte)random.Next(1, 256));
                break;
            case WorkloadData.RandomWithZeroRuns:
                random.NextBytes(data);
                for (int runs = random.Next(1, 5); runs > 0; runs--)
                {
                    int start = random.Next(data.Length);
                    int length = Math.Min(data.Length - start, random.Next(512, 16384));
                    data.AsSpan(start, length).Clear();
                }

                break;
            case WorkloadData.Zeros:
                break;
        }

        return data;
    }

    public override string ToString() => Kind switch
    {
        WorkloadOperationKind.Write => $"#{Index} Write({Offset}, {Length} bytes {DataShape})",
        WorkloadOperationKind.WriteZeroes => $"#{Index} WriteZeroes({Offset}, {Length}, mayUnmap: {MayUnmap})",
        WorkloadOperationKind.Discard => $"#{Index} Discard({Offset}, {Length})",
        _ => $"#{Index} Flush()",
    };
}

/// <summary>The content shape of written data: incompressible, one repeated byte, with zero runs, or explicit zeros.</summary>
public enum WorkloadData
{
    Random,
    Fill,
    RandomWithZeroRuns,
    Zeros,
}
