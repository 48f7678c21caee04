using System.Globalization;

namespace Qcow2Mount.WinFsp;

/// <summary>A WinFsp call failed while mounting; carries the NTSTATUS it returned.</summary>
public sealed class WinFspException : IOException
{
    public WinFspException(string operation, int status)
        : base(string.Create(CultureInfo.InvariantCulture, $"{operation} failed with NTSTATUS 0x{status:X8}"))
    {
        Status = status;
    }

    public int Status { get; }
}
