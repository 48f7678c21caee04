namespace Qcow2Mount.TestSupport.Wine;

/// <summary>One value of a registry key as <c>reg query</c> shows it; the default value has the name "".</summary>
public sealed record WineRegistryValue(string Name, string Type, string Data);
