namespace Qcow2Mount.WinFsp;

/// <summary>WinFsp's DLL cannot be found or loaded; the message says where to get WinFsp.</summary>
public sealed class WinFspNotInstalledException : IOException
{
    public const string DownloadHint = "get it from https://winfsp.dev";

    public WinFspNotInstalledException(string message)
        : base(message)
    {
    }
}
