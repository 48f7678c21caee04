using System.Buffers.Binary;
using Qcow2Mount.Core.Qcow2.Format;
using Qcow2Mount.Core.Qcow2.Metadata;
using Qcow2Mount.Core.Storage;

namespace Qcow2Mount.Core.Qcow2.Create;

/// <summary>
/// Writes a new, empty qcow2 image (spec §2–§6) laid out like qemu-img's: cluster 0 header (+ extensions and the
/// backing file name), then the refcount table, the refcount blocks, the L1 table and, with metadata
/// preallocation, every L2 table followed by every data cluster. Structures are written before the header that
/// makes them reachable, so a crash during creation leaves no valid-looking half image.
/// </summary>
public static class Qcow2Creator
{
    /// <summary>
    /// Creates (or overwrites) <paramref name="path"/> and, when asked, the external data file (named relative to the
    /// working directory). Neither is truncated before both are open, are not <paramref name="protect"/>ed files and
    /// hold QEMU's writer lock (<see cref="FileBlockDevice.OpenTarget"/>), so a file in use is never destroyed.
    /// </summary>
    public static void Create(string path, Qcow2CreateOptions options, ProtectedFiles? protect = null)
    {
        using var created = CreateLocked(path, options, protect, "the image to create");
    }

    /// <summary>
    /// As <see cref="Create(string, Qcow2CreateOptions, ProtectedFiles?)"/>, but returns the new image's files still
    /// open and locked, so the caller can open the image on them without a moment in which another process could take it.
    /// </summary>
    /// <param name="role">What the image is to the caller, for a refusal ("the image to create", "the conversion target").</param>
    internal static CreatedImage CreateLocked(string path, Qcow2CreateOptions options, ProtectedFiles? protect, string role)
    {
        options.Validate();
        var file = FileBlockDevice.OpenTarget(path, protect, role);
        FileBlockDevice? data = null;
        try
        {
            if (options.DataFile is { } dataName)
            {
                // The data file must not be the image itself either (or anything the caller protects).
                var dataProtect = (protect ?? new ProtectedFiles()).With(FileIdentity.Of(file.Handle, path), path, "the image being created");
                data = FileBlockDevice.OpenTarget(BackingChain.ResolveDataFile(dataName), dataProtect, "the external data file");
                data.SetLength(0);
            }

            file.SetLength(0);
            Create(file, options, data);
            return new CreatedImage(file, data);
        }
        catch
        {
            data?.DisposeAndRemoveIfNew();
            file.DisposeAndRemoveIfNew();
            throw;
        }
    }

    /// <summary>Writes the image into an empty device; <paramref name="dataFile"/> is sized to the disk when given.</summary>
    public static void Create(IBlockDevice file, Qcow2CreateOptions options, IBlockDevice? dataFile = null)
    {
        options.Validate();
        var layout = Layout.Compute(options);
        var geo = layout.Geometry;
        int cs = geo.ClusterSize;

        // Refcount blocks: every cluster of the layout has refcount 1.
        var block = new byte[cs];
        for (long b = 0; b < layout.RefblockCount; b++)
        {
            Array.Clear(block);
            long first = geo.FirstClusterOfRefblock(b).Index;
            long count = Math.Min(geo.RefblockEntries, layout.TotalClusters - first);
            for (int i = 0; i < count; i++)
            {
                RefcountBlock.Set(block, i, geo.RefcountOrder, 1);
            }

            file.Write(layout.OffsetOf(layout.RefblocksCluster + b).Value, block);
        }

        var table = new byte[layout.ReftableClusters * cs];
        for (long b = 0; b < layout.RefblockCount; b++)
        {
            BinaryPrimitives.WriteUInt64BigEndian(table.AsSpan((int)(b * 8)), RefcountTableEntry.For(layout.OffsetOf(layout.RefblocksCluster + b)).Raw);
        }

        file.Write(layout.OffsetOf(layout.ReftableCluster).Value, table);

        if (layout.L2Tables > 0)
        {
            WritePreallocatedTables(file, options, layout);
        }

        if (layout.L1Clusters > 0)
        {
            var l1 = new byte[layout.L1Clusters * cs];
            for (long i = 0; i < layout.L2Tables; i++)
            {
                var entry = L1Entry.For(layout.OffsetOf(layout.L2Cluster + i), copied: true);
                BinaryPrimitives.WriteUInt64BigEndian(l1.AsSpan((int)(i * 8)), entry.Raw);
            }

            file.Write(layout.OffsetOf(layout.L1Cluster).Value, l1);
        }

        // As qemu-img: without preallocation the file ends right after the L1 entries.
        file.SetLength(layout.L2Tables > 0 || layout.DataClusters > 0 || layout.L1Entries == 0
            ? layout.OffsetOf(layout.TotalClusters).Value
            : layout.OffsetOf(layout.L1Cluster).Value + (layout.L1Entries * 8));
        if (dataFile is not null)
        {
            dataFile.SetLength(options.AlignedSize);
            dataFile.Flush();
        }

        file.Flush();
        HeaderStore.Write(file, BuildHeader(options, layout));
    }

    /// <summary>The header a new image gets (also used by tests to compare against qemu-img's).</summary>
    internal static Qcow2Header BuildHeader(Qcow2CreateOptions options, Layout layout)
    {
        var geo = layout.Geometry;
        bool v3 = options.Version >= 3;
        var h = new Qcow2Header
        {
            Version = options.Version,
            ClusterBits = geo.ClusterBits,
            Size = options.AlignedSize,
            L1Size = (uint)layout.L1Entries,
            L1TableOffset = layout.L1Entries > 0 ? layout.OffsetOf(layout.L1Cluster).Value : 0,
            RefcountTableOffset = layout.OffsetOf(layout.ReftableCluster).Value,
            RefcountTableClusters = (uint)layout.ReftableClusters,
            RefcountOrder = geo.RefcountOrder,
            CompressionType = options.CompressionType,
            BackingFile = options.BackingFile,
            IncompatibleFeatures = !v3 ? 0 : (options.EffectiveExtendedL2 ? FeatureBits.IncompatibleExtendedL2 : 0)
                | (options.CompressionType != 0 ? FeatureBits.IncompatibleCompressionType : 0)
                | (options.DataFile is not null ? FeatureBits.IncompatibleExternalDataFile : 0),
            CompatibleFeatures = v3 && options.LazyRefcounts ? FeatureBits.CompatibleLazyRefcounts : 0,
            AutoclearFeatures = v3 && options.DataFileRaw ? FeatureBits.AutoclearDataFileRaw : 0,
        };

        if (options.BackingFile is not null && options.BackingFormat is { } fmt)
        {
            h = h.WithStringExtension(HeaderExtension.BackingFormat, fmt);
        }

        if (options.DataFile is { } dataFile)
        {
            h = h.WithStringExtension(HeaderExtension.ExternalDataFile, dataFile);
        }

        if (v3 && geo.ClusterSize > 4096)
        {
            h = h.WithExtension(new HeaderExtension(HeaderExtension.FeatureNameTable, Qcow2Header.StandardFeatureNameTable()));
        }

        return h;
    }

    private static void WritePreallocatedTables(IBlockDevice file, Qcow2CreateOptions options, Layout layout)
    {
        var geo = layout.Geometry;
        int cs = geo.ClusterSize;
        bool external = options.DataFile is not null;
        long guestClusters = geo.ClustersFor(options.AlignedSize);
        var l2 = new byte[cs];
        for (long t = 0; t < layout.L2Tables; t++)
        {
            Array.Clear(l2);
            for (int i = 0; i < geo.L2Entries; i++)
            {
                long guestCluster = (t * geo.L2Entries) + i;
                if (guestCluster >= guestClusters)
                {
                    break;
                }

                // External data: host offset = guest offset, COPIED marks the allocation (even at offset 0).
                var host = external ? new HostOffset(guestCluster * cs) : layout.OffsetOf(layout.DataCluster + guestCluster);
                L2Entry.Standard(host, copied: true).Write(l2, i * geo.L2EntrySize, geo.ExtendedL2);
            }

            file.Write(layout.OffsetOf(layout.L2Cluster + t).Value, l2);
        }
    }

    /// <summary>Where each structure of a new image goes, in clusters.</summary>
    internal sealed record Layout(ClusterGeometry Geometry)
    {
        public long ReftableCluster => 1;

        public long ReftableClusters { get; init; }

        public long RefblocksCluster => ReftableCluster + ReftableClusters;

        public long RefblockCount { get; init; }

        public long L1Cluster => RefblocksCluster + RefblockCount;

        public long L1Entries { get; init; }

        public long L1Clusters { get; init; }

        public long L2Cluster => L1Cluster + L1Clusters;

        public long L2Tables { get; init; }

        public long DataCluster => L2Cluster + L2Tables;

        public long DataClusters { get; init; }

        public long TotalClusters => DataCluster + DataClusters;

        /// <summary>Host offset of cluster <paramref name="cluster"/> of the layout.</summary>
        public HostOffset OffsetOf(long cluster) => Geometry.StartOf(new HostCluster(cluster));

        public static Layout Compute(Qcow2CreateOptions options)
        {
            var geo = options.Geometry;
            long l1Entries = geo.L1EntriesFor(options.AlignedSize);
            bool preallocate = options.Preallocation == Qcow2Preallocation.Metadata || options.DataFileRaw;
            long l2Tables = preallocate ? l1Entries : 0;
            long dataClusters = preallocate && options.DataFile is null ? geo.ClustersFor(options.AlignedSize) : 0;
            long fixedClusters = 1 + geo.ClustersFor(l1Entries * 8) + l2Tables + dataClusters;

            var (reftable, blocks) = RefcountStructureSize.For(geo, fixedClusters);
            return new Layout(geo)
            {
                ReftableClusters = reftable,
                RefblockCount = blocks,
                L1Entries = l1Entries,
                L1Clusters = geo.ClustersFor(l1Entries * 8),
                L2Tables = l2Tables,
                DataClusters = dataClusters,
            };
        }
    }
}
