using Microsoft.Win32.SafeHandles;
using Qcow2Mount.Core;

namespace Qcow2Mount.TestSupport;

/// <summary>
/// A seeded sequence of guest operations — writes of 512 B..300 KiB at unaligned offsets that cross cluster
/// boundaries, rewrites of earlier ranges, zero writes (with and without unmap), discards and flushes — applied to
/// an <see cref="IVirtualDisk"/> and to a raw twin file (which gets zeros for zero writes and discards).
/// The same seed and disk length always give the same operations; <see cref="ToString"/> names the seed.
/// </summary>
public sealed class RandomWorkload
{
    public const int MinWrite = 512;
    public const int MaxWrite = 300 * 1024;

    /// <summary>Boundaries the offsets gravitate to: every cluster size the tests use (and their subclusters).</summary>
    private static readonly int[] BoundaryShifts = [9, 11, 12, 14, 16, 17, 21];

    public RandomWorkload(int seed, long diskLength, int operationCount = 150)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(diskLength, 2L * MaxWrite);
        Seed = seed;
        DiskLength = diskLength;
        Operations = Generate(seed, diskLength, operationCount);
    }

    public int Seed { get; }

    public long DiskLength { get; }

    public IReadOnlyList<WorkloadOperation> Operations { get; }

    /// <summary>Applies every operation to <paramref name="disk"/> and to the raw file at <paramref name="rawTwinPath"/>, step by step.</summary>
    public void Apply(IVirtualDisk disk, string rawTwinPath)
    {
        using SafeFileHandle twin = File.OpenHandle(rawTwinPath, FileMode.Open, FileAccess.ReadWrite);
        if (RandomAccess.GetLength(twin) != DiskLength)
        {
            throw new InvalidOperationException($"raw twin {rawTwinPath} is {RandomAccess.GetLength(twin)} bytes, the disk {DiskLength}");
        }

        Apply(disk, twin, twinOffset: 0);
    }

    /// <summary>
    /// Applies every operation to <paramref name="disk"/> and to the twin through an open handle, at
    /// <paramref name="twinOffset"/> in the twin (for workloads on a <see cref="WindowDisk"/>; thread-safe for disjoint windows).
    /// </summary>
    public void Apply(IVirtualDisk disk, SafeFileHandle twin, long twinOffset) => Apply(disk, twin, twinOffset, Range.All);

    /// <summary>Applies the operations in <paramref name="steps"/> only (to interleave other I/O between parts of the workload).</summary>
    public void Apply(IVirtualDisk disk, SafeFileHandle twin, long twinOffset, Range steps)
    {
        var (first, count) = steps.GetOffsetAndLength(Operations.Count);
        foreach (WorkloadOperation op in Operations.Skip(first).Take(count))
        {
            byte[]? data = op.Kind == WorkloadOperationKind.Write ? op.Data() : null;
            ApplyToDisk(disk, op, data);
            ApplyToRaw(twin, op with { Offset = op.Offset + twinOffset }, data);
        }
    }

    /// <summary>Applies every operation to <paramref name="disk"/> only.</summary>
    public void Apply(IVirtualDisk disk)
    {
        foreach (WorkloadOperation op in Operations)
        {
            ApplyToDisk(disk, op, op.Kind == WorkloadOperationKind.Write ? op.Data() : null);
        }
    }

    /// <summary>Applies every operation to the raw file only (zeros for zero writes and discards).</summary>
    public void ApplyToRaw(string rawPath)
    {
        using SafeFileHandle raw = File.OpenHandle(rawPath, FileMode.Open, FileAccess.ReadWrite);
        foreach (WorkloadOperation op in Operations)
        {
            ApplyToRaw(raw, op, op.Kind == WorkloadOperationKind.Write ? op.Data() : null);
        }
    }

    public override string ToString() => $"RandomWorkload(seed {Seed}, {Operations.Count} operations on {DiskLength} bytes)";

    /// <summary>The operations as text, for a failure message.</summary>
    public string Describe() => ToString() + ":\n" + string.Join('\n', Operations.Select(o => "  " + o));

    private void ApplyToDisk(IVirtualDisk disk, WorkloadOperation op, byte[]? data)
    {
        try
        {
            switch (op.Kind)
            {
                case WorkloadOperationKind.Write:
                    disk.Write(op.Offset, data);
                    break;
                case WorkloadOperationKind.WriteZeroes:
                    disk.WriteZeroes(op.Offset, op.Length, op.MayUnmap);
                    break;
                case WorkloadOperationKind.Discard:
                    disk.Discard(op.Offset, op.Length);
                    break;
                case WorkloadOperationKind.Flush:
                    disk.Flush();
                    break;
            }
        }
        catch (Exception e)
        {
            throw new WorkloadException($"{this}: step {op} threw {e.GetType().Name}: {e.Message}", e);
        }
    }

    private static void ApplyToRaw(SafeFileHandle raw, WorkloadOperation op, byte[]? data)
    {
        switch (op.Kind)
        {
            case WorkloadOperationKind.Write:
                RandomAccess.Write(raw, data, op.Offset);
                break;
            case WorkloadOperationKind.WriteZeroes:
            case WorkloadOperationKind.Discard:
                RandomAccess.Write(raw, new byte[op.Length], op.Offset);
                break;
        }
    }

    private static List<WorkloadOperation> Generate(int seed, long diskLength, int count)
    {
        var random = new Random(seed);
        var operations = new List<WorkloadOperation>(count);
        var writes = new List<WorkloadOperation>();
        for (int i = 0; i < count; i++)
        {
            int dataSeed = HashCode.Combine(seed, i);
            int roll = random.Next(100);
            WorkloadOperation op;
            if (roll < 45 || (roll < 60 && writes.Count == 0))
            {
                long length = WriteLength(random);
                op = new WorkloadOperation(i, WorkloadOperationKind.Write, Offset(random, diskLength, length), length, DataSeed: dataSeed, DataShape: Shape(random));
                writes.Add(op);
            }
            else if (roll < 60)
            {
                // Rewrite an earlier write's range, exactly or partly (over data the image already holds).
                WorkloadOperation earlier = writes[random.Next(writes.Count)];
                long start = random.Next(3) == 0 ? earlier.Offset : earlier.Offset + random.NextInt64(earlier.Length / 2);
                long length = Math.Clamp(random.Next(2) == 0 ? earlier.Length : random.NextInt64(MinWrite, MaxWrite), MinWrite, diskLength - start);
                op = new WorkloadOperation(i, WorkloadOperationKind.Write, start, length, DataSeed: dataSeed, DataShape: Shape(random));
                writes.Add(op);
            }
            else if (roll < 78)
            {
                (long offset, long length) = ZeroRange(random, diskLength);
                op = new WorkloadOperation(i, WorkloadOperationKind.WriteZeroes, offset, length, MayUnmap: random.Next(2) == 0);
            }
            else if (roll < 92)
            {
                (long offset, long length) = ZeroRange(random, diskLength);
                op = new WorkloadOperation(i, WorkloadOperationKind.Discard, offset, length);
            }
            else
            {
                op = new WorkloadOperation(i, WorkloadOperationKind.Flush, 0, 0);
            }

            operations.Add(op);
        }

        return operations;
    }

    private static long WriteLength(Random random)
    {
        long length = random.Next(10) switch
        {
            < 4 => random.Next(MinWrite, 4097),
            < 7 => random.Next(4096, 72 * 1024),
            _ => random.Next(72 * 1024, MaxWrite + 1),
        };
        return random.Next(3) == 0 ? Math.Max(MinWrite, length / 512 * 512) : length;
    }

    /// <summary>An offset that is, in turn, fully random, on a power-of-two boundary, or just either side of one.</summary>
    private static long Offset(Random random, long diskLength, long length)
    {
        long limit = diskLength - length;
        long offset = random.Next(3) switch
        {
            0 => random.NextInt64(limit + 1),
            1 => AlignDown(random.NextInt64(limit + 1), 1L << BoundaryShifts[random.Next(BoundaryShifts.Length)]),
            _ => AlignDown(random.NextInt64(limit + 1), 1L << BoundaryShifts[random.Next(BoundaryShifts.Length)]) + random.Next(-3000, 3000),
        };
        return Math.Clamp(offset, 0, limit);
    }

    /// <summary>
    /// Zero-write/discard ranges: often 1–4 whole aligned units of 4–128 KiB (whole clusters or subclusters: the
    /// metadata-only paths), else unaligned. At most 512 KiB, so one step never wipes most of the disk.
    /// </summary>
    private static (long Offset, long Length) ZeroRange(Random random, long diskLength)
    {
        if (random.Next(5) < 2)
        {
            long unit = 1L << BoundaryShifts[random.Next(2, BoundaryShifts.Length - 1)];
            long units = Math.Max(1, Math.Min(random.Next(1, 5), diskLength / unit));
            long start = AlignDown(random.NextInt64(diskLength - (units * unit) + 1), unit);
            return (start, units * unit);
        }

        long length = WriteLength(random);
        return (Offset(random, diskLength, length), length);
    }

    private static WorkloadData Shape(Random random) => random.Next(10) switch
    {
        < 6 => WorkloadData.Random,
        < 8 => WorkloadData.RandomWithZeroRuns,
        8 => WorkloadData.Fill,
        _ => WorkloadData.Zeros,
    };

    private static long AlignDown(long value, long alignment) => value / alignment * alignment;
}
