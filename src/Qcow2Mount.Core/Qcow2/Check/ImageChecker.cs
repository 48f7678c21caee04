using System.Buffers.Binary;
using Qcow2Mount.Core.Qcow2.Format;
using Qcow2Mount.Core.Qcow2.Metadata;
using Qcow2Mount.Core.Storage;

namespace Qcow2Mount.Core.Qcow2.Check;

/// <summary>
/// qemu-img check for qcow2 (qemu-behaviour.md §10): counts every reference (<see cref="ReferenceCounter"/>),
/// compares with the on-disk refcounts (higher on disk = leak, lower = corruption), audits the COPIED flags of the
/// active tables, and optionally repairs: in place when the refcount structure is sound, by a rebuild
/// (<see cref="RefcountRebuilder"/>) when it is not. After a repair the image is checked again and that result is
/// returned, with what was fixed. Works on the file directly: dirty, corrupt or damaged images can be checked.
/// Messages (qemu-img's wording, one per problem) go to <c>log</c>.
/// </summary>
public static class ImageChecker
{
    public static CheckResult Check(string path, CheckRepair repair = CheckRepair.None, Action<string>? log = null)
    {
        using var file = FileBlockDevice.Open(path, readOnly: repair == CheckRepair.None, lockImage: true);
        return Check(file, repair, log, path);
    }

    public static CheckResult Check(IBlockDevice file, CheckRepair repair = CheckRepair.None, Action<string>? log = null, string? filename = null)
    {
        var first = CheckOnce(file, repair, log, forceRebuild: false, filename ?? file.Name);
        return repair == CheckRepair.None ? first : DoubleCheck(file, first, log, filename ?? file.Name);
    }

    /// <summary>Rebuilds the refcounts unconditionally (then checks again); used by <see cref="RefcountRebuilder.Rebuild"/>.</summary>
    internal static (CheckResult First, CheckResult Final) RebuildAndCheck(IBlockDevice file, Action<string>? log)
    {
        var first = CheckOnce(file, CheckRepair.All, log, forceRebuild: true, file.Name);
        return (first, DoubleCheck(file, first, log, file.Name));
    }

    private static CheckResult DoubleCheck(IBlockDevice file, CheckResult first, Action<string>? log, string filename)
    {
        if (first.CheckErrors > 0 || first.CorruptionsFixed + first.LeaksFixed == 0)
        {
            return first;
        }

        var second = CheckOnce(file, CheckRepair.None, log, forceRebuild: false, filename);
        return second with { CorruptionsFixed = first.CorruptionsFixed, LeaksFixed = first.LeaksFixed };
    }

    private static CheckResult CheckOnce(IBlockDevice file, CheckRepair fix, Action<string>? log, bool forceRebuild, string filename)
    {
        var header = HeaderStore.Read(file);
        var geo = header.Geometry;
        var counter = new ReferenceCounter(file, header, fix, log);
        counter.CountAll();
        var onDisk = new OnDiskRefcounts(file, header);

        var compared = Compare(counter, onDisk, CheckRepair.None, log);
        long corruptions = counter.Corruptions + compared.Corruptions;
        long leaks = compared.Leaks;
        long checkErrors = compared.CheckErrors;
        long corruptionsFixed = counter.CorruptionsFixed;
        long leaksFixed = 0;
        bool rebuild = compared.Rebuild || counter.RebuildNeeded;

        if ((rebuild || forceRebuild) && (fix & CheckRepair.Errors) != 0)
        {
            log?.Invoke("Rebuilding refcount structure");
            header = RefcountRebuilder.WriteNewStructure(file, header, counter);
            corruptionsFixed += compared.Corruptions;
            leaksFixed += compared.Leaks;
            corruptions = counter.Corruptions;
            leaks = 0;
            onDisk = new OnDiskRefcounts(file, header);
        }
        else if (rebuild && fix != CheckRepair.None)
        {
            log?.Invoke("ERROR need to rebuild refcount structures");
            return Result(filename, header, counter, compared.HighestCluster) with
            {
                Corruptions = corruptions,
                Leaks = leaks,
                CheckErrors = checkErrors + 1,
                CorruptionsFixed = corruptionsFixed,
                Aborted = true,
            };
        }
        else if (fix != CheckRepair.None && (compared.Leaks > 0 || compared.Corruptions > 0))
        {
            var repaired = Compare(counter, onDisk, fix, log);
            onDisk.WriteBack();
            corruptions = counter.Corruptions + repaired.Corruptions;
            leaks = repaired.Leaks;
            corruptionsFixed += repaired.CorruptionsFixed;
            leaksFixed += repaired.LeaksFixed;
        }

        // COPIED flags are rewritten under -r leaks only when the refcounts they are derived from are now right.
        bool repairFlags = (fix & CheckRepair.Errors) != 0 || (fix != CheckRepair.None && checkErrors == 0 && corruptions == 0 && leaks == 0);
        var copied = CheckCopiedFlags(file, header, onDisk, repairFlags, log);
        corruptions += copied.Corruptions;
        corruptionsFixed += copied.Fixed;

        if (fix != CheckRepair.None && checkErrors == 0 && corruptions == 0)
        {
            MarkClean(file, header);
        }

        file.Flush();
        return Result(filename, header, counter, compared.HighestCluster) with
        {
            Corruptions = corruptions,
            Leaks = leaks,
            CheckErrors = checkErrors,
            CorruptionsFixed = corruptionsFixed,
            LeaksFixed = leaksFixed,
        };
    }

    private static CheckResult Result(string filename, Qcow2Header header, ReferenceCounter counter, long highest) => new()
    {
        Filename = filename,
        ImageEndOffset = header.Geometry.StartOf(new HostCluster(highest + 1)).Value,
        TotalClusters = header.Geometry.ClustersFor(header.Size),
        AllocatedClusters = counter.AllocatedClusters,
        FragmentedClusters = counter.FragmentedClusters,
        CompressedClusters = counter.CompressedClusters,
    };

    private readonly record struct Comparison(long Leaks, long Corruptions, long CheckErrors, long LeaksFixed, long CorruptionsFixed, bool Rebuild, long HighestCluster);

    /// <summary>On-disk vs computed refcount of every cluster; with <paramref name="fix"/> the allowed direction is repaired in place.</summary>
    private static Comparison Compare(ReferenceCounter counter, OnDiskRefcounts onDisk, CheckRepair fix, Action<string>? log)
    {
        long leaks = 0, corruptions = 0, errors = 0, leaksFixed = 0, corruptionsFixed = 0, highest = -1;
        bool rebuild = false;
        for (long i = 0; i < counter.NbClusters; i++)
        {
            if (!onDisk.TryGet(i, out ulong refcount1))
            {
                log?.Invoke($"Can't get refcount for cluster {i}: Input/output error");
                errors++;
                continue;
            }

            ulong refcount2 = counter.Refs[i];
            if (refcount1 > 0 || refcount2 > 0)
            {
                highest = i;
            }

            if (refcount1 == refcount2)
            {
                continue;
            }

            bool repair = false;
            if (refcount1 == 0)
            {
                rebuild = true;
            }
            else if (refcount1 > refcount2 && (fix & CheckRepair.Leaks) != 0)
            {
                repair = true;
            }
            else if (refcount1 < refcount2 && (fix & CheckRepair.Errors) != 0)
            {
                repair = true;
            }

            string verb = repair ? "Repairing" : refcount1 < refcount2 ? "ERROR" : "Leaked";
            log?.Invoke($"{verb} cluster {i} refcount={refcount1} reference={refcount2}");
            if (repair && onDisk.TrySet(i, refcount2))
            {
                if (refcount1 > refcount2)
                {
                    leaksFixed++;
                }
                else
                {
                    corruptionsFixed++;
                }

                continue;
            }

            if (refcount1 < refcount2)
            {
                corruptions++;
            }
            else
            {
                leaks++;
            }
        }

        return new Comparison(leaks, corruptions, errors, leaksFixed, corruptionsFixed, rebuild, highest);
    }

    /// <summary>COPIED must be set exactly when the refcount is 1, for the active L1 entries and the L2 entries they reach.</summary>
    private static (long Corruptions, long Fixed) CheckCopiedFlags(IBlockDevice file, Qcow2Header header, OnDiskRefcounts onDisk, bool repair, Action<string>? log)
    {
        var geo = header.Geometry;
        bool external = header.HasExternalDataFile;
        long corruptions = 0, repaired = 0;
        string verb = repair ? "Repairing" : "ERROR";
        if (header.L1Size == 0)
        {
            return (0, 0);
        }

        var l1 = new byte[(long)header.L1Size * 8];
        file.Read(header.L1TableOffset, l1);
        var table = new byte[geo.ClusterSize];
        Span<byte> entryBytes = stackalloc byte[8];
        for (int i = 0; i < header.L1Size; i++)
        {
            var l1Entry = new L1Entry(BinaryPrimitives.ReadUInt64BigEndian(l1.AsSpan(i * 8)));
            var l2 = l1Entry.L2Table;
            if (!l1Entry.HasL2Table || !geo.IsClusterAligned(l2) || !onDisk.TryGet(geo.ClusterOf(l2).Index, out ulong refcount))
            {
                continue;
            }

            if ((refcount == 1) != l1Entry.IsCopied)
            {
                log?.Invoke($"{verb} OFLAG_COPIED L2 cluster: l1_index={i} l1_entry={l1Entry.Raw:x} refcount={refcount}");
                if (repair)
                {
                    BinaryPrimitives.WriteUInt64BigEndian(entryBytes, l1Entry.WithCopied(refcount == 1).Raw);
                    file.Write(header.L1TableOffset + (i * 8L), entryBytes);
                    repaired++;
                }
                else
                {
                    corruptions++;
                }
            }

            file.Read(l2.Value, table);
            for (int j = 0; j < geo.L2Entries; j++)
            {
                int at = j * geo.L2EntrySize;
                var entry = L2Entry.Read(table, at, geo.ExtendedL2);
                var host = entry.HostClusterOffset;
                if (!SubclusterDecoder.HasHostCluster(entry, external) || (!external && !geo.IsClusterAligned(host)))
                {
                    continue;
                }

                ulong rc = 1;
                if (!external && !onDisk.TryGet(geo.ClusterOf(host).Index, out rc))
                {
                    continue;
                }

                if ((rc == 1) != entry.IsCopied)
                {
                    log?.Invoke($"{verb} OFLAG_COPIED data cluster: l2_entry={entry.Raw:x} refcount={rc}");
                    if (repair)
                    {
                        BinaryPrimitives.WriteUInt64BigEndian(entryBytes, entry.WithCopied(rc == 1).Raw);
                        file.Write(l2.Value + at, entryBytes);
                        repaired++;
                    }
                    else
                    {
                        corruptions++;
                    }
                }
            }
        }

        if (repaired > 0)
        {
            file.Flush();
        }

        return (corruptions, repaired);
    }

    /// <summary>After a successful repair: clear the dirty and corrupt bits (qemu-img does the same).</summary>
    private static void MarkClean(IBlockDevice file, Qcow2Header header)
    {
        const ulong bits = FeatureBits.IncompatibleDirty | FeatureBits.IncompatibleCorrupt;
        if ((header.IncompatibleFeatures & bits) == 0)
        {
            return;
        }

        file.Flush();
        HeaderStore.Write(file, header with { IncompatibleFeatures = header.IncompatibleFeatures & ~bits });
    }
}
