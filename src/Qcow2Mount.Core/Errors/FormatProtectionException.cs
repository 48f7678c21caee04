namespace Qcow2Mount.Core.Errors;

/// <summary>
/// A write to the first sector of a raw disk whose format was probed, not given, would make the file look like another
/// image format (QEMU refuses such writes with EPERM, so the next probe cannot open it as that format).
/// </summary>
public sealed class FormatProtectionException : Qcow2Exception
{
    public FormatProtectionException(string name, string format)
        : base($"{name}: write to the first sector refused: it would make this probed raw image look like a {format} image (give the format raw explicitly to allow it)")
    {
        Format = format;
    }

    /// <summary>The format the first sector would have been probed as.</summary>
    public string Format { get; }
}
