namespace Qcow2Mount.Fuzz;

/// <summary>An input made the engine misbehave: an unexpected exception, a write on a read-only open, a hang.</summary>
public sealed class FuzzFindingException : Exception
{
    public FuzzFindingException(string message, Exception? inner)
        : base(message, inner)
    {
    }

    public FuzzFindingException()
    {
    }

    public FuzzFindingException(string message)
        : base(message)
    {
    }

    /// <summary>Exception type and the first engine frame: findings with the same key are one bug.</summary>
    public string Key
    {
        get
        {
            var inner = InnerException;
            if (inner is null)
            {
                return Message;
            }

            string frame = inner.StackTrace?.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.Contains("Qcow2Mount.Core", StringComparison.Ordinal)) ?? "";
            int inAt = frame.IndexOf(" in ", StringComparison.Ordinal);
            return inner.GetType().Name + " " + (inAt > 0 ? frame[..inAt] : frame);
        }
    }
}
