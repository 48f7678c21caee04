namespace Qcow2Mount.Core.Tools;

/// <summary>A compare that could not finish; <see cref="Exception.Message"/> is one line in qemu-img's words.</summary>
public sealed class CompareFailedException : Exception
{
    public CompareFailedException(CompareStage stage, string message, Exception? inner = null)
        : base(message, inner)
    {
        Stage = stage;
    }

    public CompareStage Stage { get; }
}
