namespace Qcow2Mount.Core.Qcow2.Allocation;

/// <summary>
/// Orders requests on overlapping guest ranges: readers and in-place writers share a range; a request that changes
/// the mapping of a range (allocation, COW, zeroing, discard) holds it alone. Two allocating writes to the same
/// cluster therefore run one after the other and never both allocate it.
/// </summary>
internal sealed class GuestRangeLock
{
    private readonly object _gate = new();
    private readonly List<Held> _held = new();

    public Lease Acquire(long start, long end, bool exclusive)
    {
        var mine = new Held(start, end, exclusive);
        lock (_gate)
        {
            while (Conflicts(mine))
            {
                Monitor.Wait(_gate);
            }

            _held.Add(mine);
        }

        return new Lease(this, mine);
    }

    private bool Conflicts(Held mine)
    {
        foreach (var h in _held)
        {
            if (h.Start < mine.End && mine.Start < h.End && (h.Exclusive || mine.Exclusive))
            {
                return true;
            }
        }

        return false;
    }

    private void Release(Held held)
    {
        lock (_gate)
        {
            _held.Remove(held);
            Monitor.PulseAll(_gate);
        }
    }

    internal sealed record Held(long Start, long End, bool Exclusive);

    public readonly struct Lease : IDisposable
    {
        private readonly GuestRangeLock? _owner;
        private readonly Held? _held;

        internal Lease(GuestRangeLock owner, Held held)
        {
            _owner = owner;
            _held = held;
        }

        public void Dispose() => _owner?.Release(_held!);
    }
}
