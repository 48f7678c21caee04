namespace Qcow2Mount.Core.Errors;

/// <summary>Base of every error the engine raises on purpose. <see cref="Exception.Message"/> is one line naming the file and the problem.</summary>
public abstract class Qcow2Exception : IOException
{
    protected Qcow2Exception(string message)
        : base(message)
    {
    }

    protected Qcow2Exception(string message, Exception inner)
        : base(message, inner)
    {
    }
}
