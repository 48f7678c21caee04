namespace Qcow2Mount.TestSupport.Wine;

/// <summary>Which registry view a <c>reg</c> command reads or writes (reg.exe's <c>/reg:32</c> and <c>/reg:64</c>).</summary>
public enum WineRegistryView
{
    /// <summary>The view of a 64-bit program: HKLM\SOFTWARE as is.</summary>
    Registry64,

    /// <summary>The view of a 32-bit program: HKLM\SOFTWARE is HKLM\SOFTWARE\WOW6432Node (where WinFsp's MSI writes).</summary>
    Registry32,
}
