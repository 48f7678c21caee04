using Qcow2Mount.TestSupport.Wine;

namespace Qcow2Mount.Packaging.Tests.Wine;

/// <summary>Reading command lines out of a WINEDEBUG=+process trace (lines as Wine 8.0 prints them).</summary>
[TestFixture]
internal sealed class WineProcessTraceTests
{
    [Test]
    public void CommandLines_TraceOfAShellOpen_GivesEachCreatedProcessUnescaped()
    {
        const string trace = """
            0024:trace:process:CreateProcessInternalW app L"C:\\windows\\system32\\start.exe" cmdline L"\"C:\\windows\\system32\\start.exe\" /unix \"/tmp/my disk.qcow2\""
            00d4:trace:process:find_exe_file looking for L"C:\\x.exe" in L"C:\\windows\\system32"
            00d4:trace:process:CreateProcessInternalW app (null) cmdline L"\"C:\\Program Files\\Qcow2Mount\\qcow2mount.exe\" \"Z:\\tmp\\my disk.qcow2\""
            00d4:trace:process:CreateProcessInternalW started process pid 00e0 tid 00e4
            00e8:trace:process:CreateProcessInternalW app (null) cmdline L"caf\x00e9 \"tab\there\""
            """;

        var lines = WineProcessTrace.CommandLines(trace);

        Assert.That(lines, Is.EqualTo(new[]
        {
            "\"C:\\windows\\system32\\start.exe\" /unix \"/tmp/my disk.qcow2\"",
            "\"C:\\Program Files\\Qcow2Mount\\qcow2mount.exe\" \"Z:\\tmp\\my disk.qcow2\"",
            "caf\u00e9 \"tab\there\"",
        }));
    }

    [Test]
    public void CommandLines_TraceWithoutProcessCreation_IsEmpty()
    {
        Assert.That(WineProcessTrace.CommandLines("0024:trace:process:find_exe_file looking for L\"x\"\n"), Is.Empty);
    }
}
