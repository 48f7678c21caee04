namespace Qcow2Mount.WinFsp.Tests.Support;

/// <summary>The owner the Linux tests' volumes report (there is no Windows user to ask): a typical local account SID.</summary>
internal static class TestOwner
{
    public const string Sid = "S-1-5-21-1004336348-1177238915-682003330-1001";

    public static SecurityDescriptor Descriptor { get; } = SecurityDescriptor.ForOwner(Sid);
}
