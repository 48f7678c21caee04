using Qcow2Mount.Core;

namespace Qcow2Mount.TestSupport.Crash;

/// <summary>
/// What the guest may read after a power cut, for a workload recorded in a <see cref="StorageLog"/>. Each change is
/// noted before it is issued; <see cref="MarkDurable"/> is called when a flush (or close, or resize) returned, so
/// everything noted before it must survive any later crash. At a crash point a byte must read as it was at the last
/// durable mark before that point, or as one of the changes started since then and before the crash (the image may
/// also have the size of a resize started since then).
/// </summary>
public sealed class GuestModel
{
    private readonly StorageLog _log;
    private readonly byte[] _initial;
    private readonly List<GuestOperation> _operations = new();
    private readonly List<(int LogIndex, int OperationCount)> _marks = new();

    /// <param name="initial">The disk's content before the workload (its length is the disk's size).</param>
    public GuestModel(StorageLog log, byte[] initial)
    {
        _log = log;
        _initial = initial;
        CurrentSize = initial.Length;
        MaxSize = initial.Length;
        _marks.Add((0, 0));
    }

    public long CurrentSize { get; private set; }

    /// <summary>The largest size the disk had (model buffers cover it).</summary>
    public long MaxSize { get; private set; }

    public void Write(long offset, ReadOnlySpan<byte> data) => Add(new GuestOperation(_log.Count, offset, data.Length, data.ToArray()));

    public void Zero(long offset, long length) => Add(new GuestOperation(_log.Count, offset, length, null));

    public void Resize(long newSize)
    {
        // A shrink cuts [newSize, oldSize) off: whatever grows back there later must read as zeros.
        long old = CurrentSize;
        Add(new GuestOperation(_log.Count, Math.Min(newSize, old), Math.Abs(old - newSize), null, newSize));
        CurrentSize = newSize;
    }

    /// <summary>Everything noted so far is durable from the log's current position on.</summary>
    public void MarkDurable() => _marks.Add((_log.Count, _operations.Count));

    /// <summary>A verifier for crash points visited in ascending order.</summary>
    public Cursor CreateCursor() => new(this);

    private void Add(GuestOperation operation)
    {
        _operations.Add(operation);
        MaxSize = Math.Max(MaxSize, Math.Max(CurrentSize, operation.Offset + operation.Length));
    }

    /// <summary>Rolls the durable content forward through the crash points (ascending) and checks disks against it.</summary>
    public sealed class Cursor
    {
        private readonly GuestModel _model;
        private readonly byte[] _durable;
        private long _durableSize;
        private int _applied;
        private int _mark;

        internal Cursor(GuestModel model)
        {
            _model = model;
            _durable = new byte[Math.Max(model.MaxSize, model._initial.Length)];
            model._initial.CopyTo(_durable, 0);
            _durableSize = model._initial.Length;
        }

        /// <summary>Content and size the guest must find after a crash at <paramref name="crashIndex"/>, and the changes that may show instead.</summary>
        public (long DurableSize, IReadOnlyList<GuestOperation> Uncertain) Advance(int crashIndex)
        {
            while (_mark + 1 < _model._marks.Count && _model._marks[_mark + 1].LogIndex <= crashIndex)
            {
                _mark++;
            }

            int durableCount = _model._marks[_mark].OperationCount;
            for (; _applied < durableCount; _applied++)
            {
                var op = _model._operations[_applied];
                if (op.NewSize is long size)
                {
                    if (size < _durableSize)
                    {
                        _durable.AsSpan((int)size, (int)(_durableSize - size)).Clear();
                    }

                    _durableSize = size;
                }
                else if (op.Data is null)
                {
                    _durable.AsSpan((int)op.Offset, (int)op.Length).Clear();
                }
                else
                {
                    op.Data.CopyTo(_durable, op.Offset);
                }
            }

            var uncertain = new List<GuestOperation>();
            for (int i = durableCount; i < _model._operations.Count && _model._operations[i].StartIndex < crashIndex; i++)
            {
                uncertain.Add(_model._operations[i]);
            }

            return (_durableSize, uncertain);
        }

        /// <summary>Null when <paramref name="disk"/> reads as the model allows after a crash at <paramref name="crashIndex"/>, else what differs.</summary>
        public string? Verify(int crashIndex, IVirtualDisk disk)
        {
            var (durableSize, uncertain) = Advance(crashIndex);
            if (disk.Length != durableSize && !uncertain.Any(o => o.NewSize == disk.Length))
            {
                return $"disk size {disk.Length}, expected {durableSize}{string.Concat(uncertain.Where(o => o.NewSize is not null).Select(o => $" or {o.NewSize}"))}";
            }

            var buffer = new byte[1 << 16];
            for (long pos = 0; pos < disk.Length; pos += buffer.Length)
            {
                int n = (int)Math.Min(buffer.Length, disk.Length - pos);
                var actual = buffer.AsSpan(0, n);
                disk.Read(pos, actual);
                int expectedInDurable = (int)Math.Clamp(durableSize - pos, 0, n);
                if (actual[..expectedInDurable].SequenceEqual(_durable.AsSpan((int)pos, expectedInDurable))
                    && !actual[expectedInDurable..].ContainsAnyExcept((byte)0))
                {
                    continue;
                }

                for (int i = 0; i < n; i++)
                {
                    long at = pos + i;
                    byte expected = at < durableSize ? _durable[at] : (byte)0;
                    byte value = actual[i];
                    if (value == expected || uncertain.Any(o => o.Covers(at) && o.ValueAt(at) == value))
                    {
                        continue;
                    }

                    return $"guest byte 0x{at:x} reads 0x{value:x2}, flushed content is 0x{expected:x2}"
                        + (uncertain.Count == 0 ? " and nothing was in flight" : $"; in flight: {string.Join(", ", uncertain.Take(8))}");
                }
            }

            return null;
        }
    }
}
