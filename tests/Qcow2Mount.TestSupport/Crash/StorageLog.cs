using Qcow2Mount.Core.Storage;

namespace Qcow2Mount.TestSupport.Crash;

/// <summary>
/// Every write, length change, hole punch, zero range and flush the engine issues to the files it was given
/// (the image and an external data file), in issue order across files, with each file's content before the first
/// one. <see cref="CrashStateGenerator"/> rebuilds from it what a power cut at any point may leave on disk.
/// Thread-safe: concurrent calls are recorded in the order they returned.
/// </summary>
public sealed class StorageLog
{
    private readonly object _gate = new();
    private readonly List<StorageOperation> _operations = new();
    private readonly List<(string Name, byte[] Initial)> _files = new();

    /// <summary>Operations recorded so far; the next one gets this index.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _operations.Count;
            }
        }
    }

    public IReadOnlyList<StorageOperation> Operations
    {
        get
        {
            lock (_gate)
            {
                return _operations.ToArray();
            }
        }
    }

    public int FileCount => _files.Count;

    public string FileName(int file) => _files[file].Name;

    /// <summary>The file's bytes before the first recorded operation (its length is the file's length).</summary>
    public byte[] InitialContent(int file) => _files[file].Initial;

    /// <summary>The changes to <paramref name="file"/> after its last flush (what a power cut now could still lose).</summary>
    public IReadOnlyList<StorageOperation> Unsynced(int file)
    {
        lock (_gate)
        {
            int last = _operations.FindLastIndex(o => o.File == file && o.Kind == StorageOperationKind.Flush);
            return _operations.Skip(last + 1).Where(o => o.File == file).ToArray();
        }
    }

    /// <summary>Starts recording a file whose current content is read from <paramref name="path"/>; returns its number.</summary>
    public int AddFile(string path)
    {
        lock (_gate)
        {
            _files.Add((path, File.ReadAllBytes(path)));
            return _files.Count - 1;
        }
    }

    /// <summary>A device that passes every call to <paramref name="inner"/> and records the ones that change the file.</summary>
    public IBlockDevice Wrap(int file, IBlockDevice inner) => new RecordingBlockDevice(this, file, inner);

    internal void Append(int file, StorageOperationKind kind, long offset, long length, byte[]? data)
    {
        lock (_gate)
        {
            _operations.Add(new StorageOperation(_operations.Count, file, kind, offset, length, data));
        }
    }
}
