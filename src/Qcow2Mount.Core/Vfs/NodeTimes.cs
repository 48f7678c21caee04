namespace Qcow2Mount.Core.Vfs;

/// <summary>The four times of a node, UTC. Platforms without a creation time ignore <see cref="Created"/>.</summary>
public readonly record struct NodeTimes(DateTime Created, DateTime Accessed, DateTime Modified, DateTime Changed);
