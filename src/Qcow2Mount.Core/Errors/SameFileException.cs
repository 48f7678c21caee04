namespace Qcow2Mount.Core.Errors;

/// <summary>
/// A file a tool was asked to create or overwrite is one it must keep: the source of a conversion, a file of the
/// source's backing chain or its external data file, the new image's own backing file. A command-line mistake
/// (exit 1), found before anything is truncated.
/// </summary>
public sealed class SameFileException : ArgumentException
{
    public SameFileException(string message)
        : base(message)
    {
    }
}
