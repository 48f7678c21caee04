namespace Qcow2Mount.Core.Errors;

/// <summary>The image cannot be opened: a header field, table or extension is invalid (found while opening).</summary>
public sealed class ImageFormatException : Qcow2Exception
{
    public ImageFormatException(string message)
        : base(message)
    {
    }
}
