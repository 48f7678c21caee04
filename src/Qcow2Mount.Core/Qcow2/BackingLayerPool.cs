namespace Qcow2Mount.Core.Qcow2;

/// <summary>
/// The backing layers of one mount, shared by every image that uses them: each (real path, format) is opened once,
/// read-only, and reference counted; the last image to close its lease closes the layer (and so releases its own
/// backing chain). Sharing is safe because layers are read-only and every <see cref="IVirtualDisk"/> is thread-safe.
/// Thread-safe; opening a layer runs under the pool's (re-entrant) lock so a layer is never opened twice.
/// </summary>
public sealed class BackingLayerPool
{
    private readonly object _lock = new();
    private readonly Dictionary<(string RealPath, string Format), Layer> _layers = new();
    private int _opens;

    /// <summary>Layers open now.</summary>
    public int OpenLayers
    {
        get
        {
            lock (_lock)
            {
                return _layers.Count;
            }
        }
    }

    /// <summary>Layers opened since the pool was made (a shared layer counts once, however many images use it).</summary>
    public int TotalOpens => Volatile.Read(ref _opens);

    /// <summary>Users of the layer at <paramref name="realPath"/> (0 when it is not open).</summary>
    public int UsersOf(string realPath, string format)
    {
        lock (_lock)
        {
            return _layers.TryGetValue((realPath, format), out var layer) ? layer.Users : 0;
        }
    }

    /// <summary>
    /// The open layer for (<paramref name="realPath"/>, <paramref name="format"/>), opened by <paramref name="open"/>
    /// when nobody holds it. Dispose the returned lease (not the disk) when done with it.
    /// </summary>
    internal Lease Acquire(string realPath, string format, Func<BackingChain.OpenedLayer> open)
    {
        lock (_lock)
        {
            if (!_layers.TryGetValue((realPath, format), out var layer))
            {
                var opened = open();
                layer = new Layer(opened);
                _layers.Add((realPath, format), layer);
                _opens++;
            }

            layer.Users++;
            return new Lease(this, (realPath, format), layer);
        }
    }

    private void Release((string, string) key, Layer layer)
    {
        lock (_lock)
        {
            if (--layer.Users > 0)
            {
                return;
            }

            _layers.Remove(key);
            layer.Opened.Disk.Dispose();
        }
    }

    internal sealed class Layer(BackingChain.OpenedLayer opened)
    {
        public BackingChain.OpenedLayer Opened { get; } = opened;

        public int Users { get; set; }
    }

    /// <summary>One image's use of a shared layer; disposing it more than once releases once.</summary>
    internal sealed class Lease : IDisposable
    {
        private readonly BackingLayerPool _pool;
        private readonly (string, string) _key;
        private readonly Layer _layer;
        private int _released;

        public Lease(BackingLayerPool pool, (string, string) key, Layer layer)
        {
            _pool = pool;
            _key = key;
            _layer = layer;
        }

        public BackingChain.OpenedLayer Opened => _layer.Opened;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                _pool.Release(_key, _layer);
            }
        }
    }
}
