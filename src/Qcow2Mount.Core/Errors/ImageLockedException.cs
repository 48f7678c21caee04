namespace Qcow2Mount.Core.Errors;

/// <summary>Another process (QEMU or another mount) holds a conflicting lock on the image file.</summary>
public sealed class ImageLockedException : Qcow2Exception
{
    public ImageLockedException(string message)
        : base(message)
    {
    }
}
