namespace Qcow2Mount.Core.Errors;

/// <summary>A request the raw files cannot honour as asked (reserving space: EOPNOTSUPP, STATUS_NOT_SUPPORTED).</summary>
public sealed class UnsupportedRequestException : VfsException
{
    public UnsupportedRequestException(string file, string request)
        : base($"{file}: {request} is not supported")
    {
    }
}
