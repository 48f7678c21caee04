using System.Text;

namespace Qcow2Mount.TestSupport.Crash;

/// <summary>
/// Rebuilds from a <see cref="StorageLog"/> what a power cut may leave on disk. A crash point is a flush (the power
/// fails just before it takes effect) or the end of the log. At a crash point each file holds everything up to its
/// own last flush before that point, plus some of what was issued to it since: nothing, everything, a prefix (in issue
/// order across the files), a random subset applied in issue order, or, when only a few units are in flight, every
/// subset. Writes count in 4 KiB pages of the file (page-cache writeback is per page, so a write may survive in
/// part); length changes, hole punches and zero ranges count whole.
/// </summary>
public sealed class CrashStateGenerator
{
    /// <summary>The unit of a write that survives or not on its own.</summary>
    public const int PageSize = 4096;

    /// <summary>Every subset is tried where at most this many units are in flight (2^4 − 2 states besides all and none).</summary>
    public const int ExhaustiveUnits = 4;

    private readonly StorageLog _log;
    private readonly IReadOnlyList<StorageOperation> _operations;

    /// <summary>Per file, the indexes of its operations other than flushes, ascending.</summary>
    private readonly List<int>[] _changes;

    public CrashStateGenerator(StorageLog log)
    {
        _log = log;
        _operations = log.Operations;
        _changes = Enumerable.Range(0, log.FileCount).Select(_ => new List<int>()).ToArray();
        var points = new List<int>();
        for (int i = 0; i < _operations.Count; i++)
        {
            if (_operations[i].Kind == StorageOperationKind.Flush)
            {
                points.Add(i);
            }
            else
            {
                _changes[_operations[i].File].Add(i);
            }
        }

        points.Add(_operations.Count);
        CrashPoints = points;
    }

    /// <summary>The index of every flush in the log, then the log's length (a crash after the last operation).</summary>
    public IReadOnlyList<int> CrashPoints { get; }

    /// <summary>Distinct states found by the last <see cref="Plan"/> before sampling.</summary>
    public int DistinctStates { get; private set; }

    /// <summary>
    /// Distinct crash states, at most <paramref name="maxStates"/>: per crash point nothing and everything in flight,
    /// every subset where at most <see cref="ExhaustiveUnits"/> units are in flight, else a prefix and three random
    /// subsets. Sampling goes round the crash points in random order, taking the reordered states (subsets) of each
    /// before the in-order ones, so a small budget still spreads over the whole log.
    /// </summary>
    public List<CrashPlan> Plan(Random random, int maxStates)
    {
        var seen = new HashSet<string>();
        var perPoint = new List<List<CrashPlan>>();
        var pending = NewPending();
        int applied = 0;
        foreach (int point in CrashPoints)
        {
            Advance(pending, ref applied, point, durable: null);
            var units = Units(pending);
            var candidates = new List<CrashPlan>();
            if (units.Count is > 1 and <= ExhaustiveUnits)
            {
                for (int mask = 1; mask < (1 << units.Count) - 1; mask++)
                {
                    candidates.Add(new CrashPlan(point, CrashPersistence.Exact, mask));
                }
            }
            else if (units.Count > ExhaustiveUnits)
            {
                for (int i = 0; i < 3; i++)
                {
                    candidates.Add(new CrashPlan(point, CrashPersistence.RandomSubset, random.Next()));
                }

                candidates.Add(new CrashPlan(point, CrashPersistence.Prefix, random.Next()));
            }

            candidates.Add(new CrashPlan(point, CrashPersistence.EverythingIssued, 0));
            candidates.Add(new CrashPlan(point, CrashPersistence.NothingUnflushed, 0));
            var distinct = candidates.Where(c => seen.Add(Key(c, units))).ToList();
            // Subsets in random order first, then the in-order states.
            int ordered = distinct.Count(c => c.Persistence is CrashPersistence.EverythingIssued or CrashPersistence.NothingUnflushed);
            var subsets = distinct.Take(distinct.Count - ordered).OrderBy(_ => random.Next());
            perPoint.Add(subsets.Concat(distinct.Skip(distinct.Count - ordered)).ToList());
        }

        DistinctStates = perPoint.Sum(p => p.Count);
        var order = Enumerable.Range(0, perPoint.Count).OrderBy(_ => random.Next()).ToList();
        var plans = new List<CrashPlan>();
        for (int round = 0; plans.Count < maxStates && plans.Count < DistinctStates; round++)
        {
            foreach (int p in order)
            {
                if (round < perPoint[p].Count && plans.Count < maxStates)
                {
                    plans.Add(perPoint[p][round]);
                }
            }
        }

        return plans;
    }

    /// <summary>Builds the planned states in ascending crash-point order (the plans are sorted here).</summary>
    public IEnumerable<CrashState> Replay(IEnumerable<CrashPlan> plans)
    {
        int files = _log.FileCount;
        var durable = new FileBytes[files];
        var scratch = new FileBytes[files];
        for (int f = 0; f < files; f++)
        {
            durable[f] = new FileBytes(_log.InitialContent(f));
            scratch[f] = new FileBytes([]);
        }

        var pending = NewPending();
        int applied = 0;
        foreach (var plan in plans.OrderBy(p => p.CrashIndex))
        {
            Advance(pending, ref applied, plan.CrashIndex, durable);
            var units = Units(pending);
            var kept = Choose(units.Count, plan);
            for (int f = 0; f < files; f++)
            {
                scratch[f].CopyFrom(durable[f]);
            }

            var lost = new List<string>();
            for (int u = 0; u < units.Count; u++)
            {
                var (op, offset, length) = units[u];
                if (kept[u])
                {
                    scratch[op.File].Apply(op, offset, length);
                }
                else
                {
                    lost.Add(op.Kind == StorageOperationKind.Write ? $"#{op.Index}@0x{offset:x}" : $"#{op.Index} {op.Kind}");
                }
            }

            string at = plan.CrashIndex < _operations.Count ? _operations[plan.CrashIndex].ToString() : "the end of the log";
            string description = $"power cut before {at} ({plan.Persistence}): {units.Count - lost.Count} of {units.Count} unflushed units kept"
                + (lost.Count == 0 ? string.Empty : $", lost {string.Join(' ', lost.Take(12))}{(lost.Count > 12 ? " …" : string.Empty)}");
            yield return new CrashState(plan, scratch.Select(s => s.Buffer).ToArray(), scratch.Select(s => s.Length).ToArray(), description);
        }
    }

    private List<StorageOperation>[] NewPending() => Enumerable.Range(0, _log.FileCount).Select(_ => new List<StorageOperation>()).ToArray();

    /// <summary>Takes operations [applied, crashIndex) in: a flush folds its file's pending operations into <paramref name="durable"/>.</summary>
    private void Advance(List<StorageOperation>[] pending, ref int applied, int crashIndex, FileBytes[]? durable)
    {
        for (; applied < crashIndex; applied++)
        {
            var op = _operations[applied];
            if (op.Kind != StorageOperationKind.Flush)
            {
                pending[op.File].Add(op);
                continue;
            }

            if (durable is not null)
            {
                foreach (var p in pending[op.File])
                {
                    durable[op.File].Apply(p, p.Offset, p.Kind == StorageOperationKind.Write ? p.Data!.Length : p.Length);
                }
            }

            pending[op.File].Clear();
        }
    }

    /// <summary>The unflushed operations of all files cut into survival units (writes per file page), in issue order.</summary>
    private static List<(StorageOperation Op, long Offset, long Length)> Units(List<StorageOperation>[] pending)
    {
        var units = new List<(StorageOperation, long, long)>();
        foreach (var op in pending.SelectMany(p => p).OrderBy(o => o.Index))
        {
            if (op.Kind != StorageOperationKind.Write)
            {
                units.Add((op, op.Offset, op.Length));
                continue;
            }

            long end = op.Offset + op.Data!.Length;
            for (long pos = op.Offset; pos < end;)
            {
                long next = Math.Min(end, (pos / PageSize * PageSize) + PageSize);
                units.Add((op, pos, next - pos));
                pos = next;
            }
        }

        return units;
    }

    /// <summary>
    /// Identifies the content a plan produces: per file, the first of its changes that is not wholly kept (all before it
    /// are on disk), then the units kept after it. "Everything before flush A" and "nothing after flush A" are one state.
    /// </summary>
    private string Key(CrashPlan plan, List<(StorageOperation Op, long Offset, long Length)> units)
    {
        var kept = Choose(units.Count, plan);
        var key = new StringBuilder();
        for (int f = 0; f < _log.FileCount; f++)
        {
            int firstMissing = -1;
            var after = new StringBuilder();
            for (int u = 0; u < units.Count; u++)
            {
                var (op, offset, _) = units[u];
                if (op.File != f)
                {
                    continue;
                }

                if (firstMissing < 0 && !kept[u])
                {
                    firstMissing = op.Index;
                }

                if (firstMissing >= 0 && kept[u])
                {
                    after.Append(op.Index).Append('@').Append(offset).Append(',');
                }
            }

            if (firstMissing < 0)
            {
                // Everything in flight survived: the first change missing is the file's next one after the crash point.
                int next = _changes[f].BinarySearch(plan.CrashIndex);
                next = next < 0 ? ~next : next;
                firstMissing = next < _changes[f].Count ? _changes[f][next] : int.MaxValue;
            }

            key.Append(firstMissing).Append(':').Append(after).Append('|');
        }

        return key.ToString();
    }

    private static bool[] Choose(int count, CrashPlan plan)
    {
        var kept = new bool[count];
        var random = new Random(plan.Seed);
        switch (plan.Persistence)
        {
            case CrashPersistence.EverythingIssued:
                Array.Fill(kept, true);
                break;
            case CrashPersistence.Prefix:
                Array.Fill(kept, true, 0, count == 0 ? 0 : random.Next(1, count));
                break;
            case CrashPersistence.RandomSubset:
                double p = random.Next(3) switch { 0 => 0.25, 1 => 0.5, _ => 0.75 };
                for (int i = 0; i < count; i++)
                {
                    kept[i] = random.NextDouble() < p;
                }

                break;
            case CrashPersistence.Exact:
                for (int i = 0; i < count; i++)
                {
                    kept[i] = (plan.Seed & (1 << i)) != 0;
                }

                break;
        }

        return kept;
    }

    /// <summary>A file's bytes with a length, grown on demand.</summary>
    private sealed class FileBytes(byte[] initial)
    {
        public byte[] Buffer { get; private set; } = (byte[])initial.Clone();

        public long Length { get; private set; } = initial.Length;

        public void CopyFrom(FileBytes other)
        {
            Reserve(other.Length);
            other.Buffer.AsSpan(0, (int)other.Length).CopyTo(Buffer);
            Length = other.Length;
        }

        /// <summary>Applies the part [offset, offset+length) of <paramref name="op"/> (a whole op for non-writes).</summary>
        public void Apply(StorageOperation op, long offset, long length)
        {
            switch (op.Kind)
            {
                case StorageOperationKind.Write:
                    Reserve(offset + length);
                    if (offset > Length)
                    {
                        Buffer.AsSpan((int)Length, (int)(offset - Length)).Clear(); // a write past the end leaves a hole
                    }

                    op.Data.AsSpan((int)(offset - op.Offset), (int)length).CopyTo(Buffer.AsSpan((int)offset));
                    Length = Math.Max(Length, offset + length);
                    break;
                case StorageOperationKind.SetLength:
                    Reserve(op.Length);
                    if (op.Length > Length)
                    {
                        Buffer.AsSpan((int)Length, (int)(op.Length - Length)).Clear();
                    }

                    Length = op.Length;
                    break;
                case StorageOperationKind.PunchHole:
                    long end = Math.Min(Length, op.Offset + op.Length);
                    if (end > op.Offset)
                    {
                        Buffer.AsSpan((int)op.Offset, (int)(end - op.Offset)).Clear();
                    }

                    break;
                case StorageOperationKind.ZeroRange:
                    Reserve(op.Offset + op.Length);
                    if (op.Offset + op.Length > Length)
                    {
                        Buffer.AsSpan((int)Length, (int)(op.Offset + op.Length - Length)).Clear();
                        Length = op.Offset + op.Length;
                    }

                    Buffer.AsSpan((int)op.Offset, (int)op.Length).Clear();
                    break;
            }
        }

        private void Reserve(long length)
        {
            if (length > Buffer.Length)
            {
                var bigger = new byte[Math.Max(length, (long)Buffer.Length * 3 / 2)];
                Buffer.AsSpan(0, (int)Length).CopyTo(bigger);
                Buffer = bigger;
            }
        }
    }
}
