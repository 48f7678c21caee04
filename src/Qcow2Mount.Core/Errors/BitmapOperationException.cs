namespace Qcow2Mount.Core.Errors;

/// <summary>A persistent bitmap operation was refused (name exists or is missing, bad granularity, inconsistent bitmap); the message is qemu-img's reason.</summary>
public sealed class BitmapOperationException : Qcow2Exception
{
    public BitmapOperationException(string message)
        : base(message)
    {
    }
}
