using Qcow2Mount.Core.Qcow2.Format;

namespace Qcow2Mount.Core.Qcow2.Allocation;

/// <summary>Where the refcount table lies (the header's refcount_table_offset and refcount_table_clusters, spec §2.1).</summary>
internal readonly record struct RefcountTableLocation(HostOffset Offset, uint Clusters);
