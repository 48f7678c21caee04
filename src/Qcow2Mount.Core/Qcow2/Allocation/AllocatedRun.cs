using Qcow2Mount.Core.Qcow2.Format;

namespace Qcow2Mount.Core.Qcow2.Allocation;

/// <summary>
/// What an allocation changed: the first host offset of the new run and, when the refcount table had to grow to
/// describe it, the table's new location, which the header must name next (the refcount manager never writes it).
/// </summary>
internal readonly record struct AllocatedRun(HostOffset Start, RefcountTableLocation? MovedTable);
