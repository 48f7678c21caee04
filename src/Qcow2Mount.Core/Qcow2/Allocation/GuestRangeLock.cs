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
    private long _nextToken;

    /// <summary>Waits until no conflicting range is held, then holds [start, end). Allocates nothing.</summary>
    public Lease Acquire(long start, long end, bool exclusive)
    {
        lock (_gate)
        {
            var mine = new Held(start, end, exclusive, ++_nextToken);
            while (Conflicts(mine))
            {
                Monitor.Wait(_gate);
            }

            _held.Add(mine);
            return new Lease(this, mine.Token);
        }
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

    private void Release(long token)
    {
        lock (_gate)
        {
            for (int i = 0; i < _held.Count; i++)
            {
                if (_held[i].Token == token)
                {
                    _held[i] = _held[^1]; // order does not matter
                    _held.RemoveAt(_held.Count - 1);
                    break;
                }
            }

            Monitor.PulseAll(_gate);
        }
    }

    /// <summary>A held range; a value, so holding one allocates nothing (a cached read or in-place write must not).</summary>
    private readonly record struct Held(long Start, long End, bool Exclusive, long Token);

    public readonly struct Lease : IDisposable
    {
        private readonly GuestRangeLock? _owner;
        private readonly long _token;

        internal Lease(GuestRangeLock owner, long token)
        {
            _owner = owner;
            _token = token;
        }

        public void Dispose() => _owner?.Release(_token);
    }
}
