namespace Qcow2Mount.Core.Qcow2.Check;

/// <summary>What <see cref="ImageChecker"/> may repair (qemu-img check's <c>-r leaks</c> and <c>-r all</c>).</summary>
[Flags]
public enum CheckRepair
{
    None = 0,

    /// <summary>Lower refcounts that are too high (leaked clusters); also fix COPIED flags.</summary>
    Leaks = 1,

    /// <summary>Raise refcounts that are too low, rebuild the refcount structure, fix repairable entries.</summary>
    Errors = 2,

    All = Leaks | Errors,
}
