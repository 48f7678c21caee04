namespace Qcow2Mount.Core.Tools;

/// <summary>Where <see cref="ImageComparer"/> failed; qemu-img compare gives each stage its own exit status.</summary>
public enum CompareStage
{
    /// <summary>An image could not be opened (qemu-img: exit 2).</summary>
    Open,

    /// <summary>The allocation status of a range could not be read (qemu-img: exit 3).</summary>
    Status,

    /// <summary>Guest data could not be read (qemu-img: exit 4).</summary>
    Read,
}
