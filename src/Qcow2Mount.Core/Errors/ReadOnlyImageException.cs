namespace Qcow2Mount.Core.Errors;

/// <summary>A write was attempted on an image or device opened read-only (or turned read-only after corruption was found).</summary>
public sealed class ReadOnlyImageException : Qcow2Exception
{
    public ReadOnlyImageException(string name)
        : base($"{name}: image is read-only")
    {
    }
}
