using Qcow2Mount.Core.Qcow2.Format;

namespace Qcow2Mount.Core.Qcow2;

/// <summary>
/// A run of guest bytes in one <see cref="SubclusterState"/>, as <see cref="ClusterMapper"/> found it.
/// <see cref="Host"/> is the host offset of the run's first byte for states with a host cluster (the run is
/// host-contiguous), else <see cref="HostOffset.None"/>. <see cref="Entry"/> is the L2 entry of the run's first
/// cluster: the descriptor of a compressed run, and whether the cluster is COPIED (writable in place).
/// </summary>
internal readonly record struct Mapping(SubclusterState State, long Length, HostOffset Host, L2Entry Entry);
