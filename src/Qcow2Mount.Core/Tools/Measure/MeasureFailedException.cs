namespace Qcow2Mount.Core.Tools.Measure;

/// <summary>The source opened but its allocation status could not be read (qemu-img: "Unable to get block status").</summary>
public sealed class MeasureFailedException : Exception
{
    public MeasureFailedException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
