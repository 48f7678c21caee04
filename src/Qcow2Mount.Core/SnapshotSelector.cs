using Qcow2Mount.Core.Qcow2.Format;

namespace Qcow2Mount.Core;

/// <summary>
/// Which internal snapshot to read, as QEMU selects one (qemu-img convert -l): <c>snapshot.id=ID,snapshot.name=NAME</c>
/// matches the entry with both (either may be left out), a bare <c>ID_OR_NAME</c> is looked up as an ID first and as a
/// name only if no ID matches. The first matching entry of the table wins.
/// </summary>
public sealed record SnapshotSelector
{
    /// <summary>The ID to match, or null.</summary>
    public string? Id { get; init; }

    /// <summary>The name to match, or null.</summary>
    public string? Name { get; init; }

    /// <summary>The entry at this position of the snapshot table (a mount opens every entry, duplicates included).</summary>
    public int? Index { get; init; }

    /// <summary>A bare ID_OR_NAME: an ID first, then a name.</summary>
    public string? IdOrName { get; init; }

    /// <summary>
    /// Keep the live disk's virtual size instead of the snapshot's own. QEMU's temporary snapshot load (qemu-img convert
    /// -l) switches only the L1 table, so its output has the live size; the snapshot's own size is what the guest saw.
    /// </summary>
    public bool KeepLiveSize { get; init; }

    /// <summary>Parses qemu-img's snapshot_param; <see cref="ArgumentException"/> for an unknown key or an empty selector.</summary>
    public static SnapshotSelector Parse(string param)
    {
        if (!param.StartsWith("snapshot.", StringComparison.Ordinal))
        {
            return param.Length == 0 ? throw new ArgumentException("empty snapshot name") : new SnapshotSelector { IdOrName = param };
        }

        string? id = null, name = null;
        foreach (string item in param.Split(','))
        {
            int eq = item.IndexOf('=', StringComparison.Ordinal);
            string key = eq < 0 ? item : item[..eq];
            string value = eq < 0 ? "" : item[(eq + 1)..];
            switch (key)
            {
                case "snapshot.id":
                    id = value;
                    break;
                case "snapshot.name":
                    name = value;
                    break;
                default:
                    throw new ArgumentException($"Invalid parameter '{key}' in snapshot option (snapshot.id=ID,snapshot.name=NAME or ID_OR_NAME)");
            }
        }

        return id is null && name is null ? throw new ArgumentException("empty snapshot selector") : new SnapshotSelector { Id = id, Name = name };
    }

    /// <summary>The index of the entry selected in <paramref name="entries"/>, or -1.</summary>
    public int Find(IReadOnlyList<SnapshotTableEntry> entries)
    {
        if (Index is int index)
        {
            return index >= 0 && index < entries.Count ? index : -1;
        }

        if (IdOrName is { } either)
        {
            int byId = IndexOf(entries, e => e.Id == either);
            return byId >= 0 ? byId : IndexOf(entries, e => e.Name == either);
        }

        return IndexOf(entries, e => (Id is null || e.Id == Id) && (Name is null || e.Name == Name));
    }

    public override string ToString() => Index is int i ? $"entry {i}" : IdOrName is { } s ? $"'{s}'"
        : string.Join(", ", new[] { Id is null ? null : $"ID '{Id}'", Name is null ? null : $"name '{Name}'" }.Where(s => s is not null));

    private static int IndexOf(IReadOnlyList<SnapshotTableEntry> entries, Func<SnapshotTableEntry, bool> match)
    {
        for (int i = 0; i < entries.Count; i++)
        {
            if (match(entries[i]))
            {
                return i;
            }
        }

        return -1;
    }
}
