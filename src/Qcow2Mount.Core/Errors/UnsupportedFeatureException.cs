namespace Qcow2Mount.Core.Errors;

/// <summary>The image is valid but uses a feature this program does not implement (an unknown incompatible bit, encryption, …).</summary>
public sealed class UnsupportedFeatureException : Qcow2Exception
{
    public UnsupportedFeatureException(string message)
        : base(message)
    {
    }
}
