namespace Qcow2Mount.Core.Errors;

/// <summary>Inconsistent metadata met during I/O. Only the affected range fails; writes through it mark the image corrupt.</summary>
public sealed class ImageCorruptException : Qcow2Exception
{
    public ImageCorruptException(string message, long guestOffset = -1, long hostOffset = -1)
        : base(message)
    {
        GuestOffset = guestOffset;
        HostOffset = hostOffset;
    }

    /// <summary>Guest offset of the request that met the problem, or -1.</summary>
    public long GuestOffset { get; }

    /// <summary>Host offset of the bad structure, or -1.</summary>
    public long HostOffset { get; }
}
