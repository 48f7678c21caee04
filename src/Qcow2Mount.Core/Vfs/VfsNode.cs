namespace Qcow2Mount.Core.Vfs;

/// <summary>
/// A node a mount shows: the root directory or one raw file. Holds the node's times, which live only as long as the
/// mount and are never written to an image file. Times are kept as ticks, each read and written atomically; a reader
/// may see one time of an update before another, never a torn one.
/// </summary>
public abstract class VfsNode
{
    private long _created;
    private long _accessed;
    private long _modified;
    private long _changed;

    private protected VfsNode(ulong id, string name, NodeTimes times)
    {
        Id = id;
        Name = name;
        _created = times.Created.Ticks;
        _accessed = times.Accessed.Ticks;
        _modified = times.Modified.Ticks;
        _changed = times.Changed.Ticks;
    }

    /// <summary>1 for the root, a file's index plus 2 (FUSE's inode, Windows' index number).</summary>
    public ulong Id { get; }

    /// <summary>The name in the mount's directory ("" for the root).</summary>
    public string Name { get; }

    public abstract bool IsDirectory { get; }

    public NodeTimes Times => new(Read(ref _created), Read(ref _accessed), Read(ref _modified), Read(ref _changed));

    /// <summary>A local time is converted; an unspecified one is taken as UTC.</summary>
    internal void Update(TimesUpdate update, DateTime now)
    {
        Set(ref _created, update.Created);
        Set(ref _accessed, update.Accessed);
        Set(ref _modified, update.Modified);
        Set(ref _changed, update.Changed ?? (update.StampChange ? now : null));
    }

    internal void Touch(TimeFields fields, DateTime now)
    {
        Set(ref _accessed, (fields & TimeFields.Accessed) != 0 ? now : null);
        Set(ref _modified, (fields & TimeFields.Modified) != 0 ? now : null);
        Set(ref _changed, (fields & TimeFields.Changed) != 0 ? now : null);
    }

    private static DateTime Read(ref long ticks) => new(Volatile.Read(ref ticks), DateTimeKind.Utc);

    private static void Set(ref long ticks, DateTime? value)
    {
        if (value is { } v)
        {
            Volatile.Write(ref ticks, (v.Kind == DateTimeKind.Local ? v.ToUniversalTime() : v).Ticks);
        }
    }
}
