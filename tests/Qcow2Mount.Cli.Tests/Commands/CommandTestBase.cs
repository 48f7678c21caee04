using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Cli.Tests.Commands;

/// <summary>A temporary directory per test for the command tests.</summary>
public abstract class CommandTestBase
{
    protected string Dir { get; private set; } = "";

    [SetUp]
    public void CreateDirectory() => Dir = TempDir.Create("cli");

    [TearDown]
    public void DeleteDirectory() => TempDir.Delete(Dir);

    /// <summary>The command line under test, run as a real process with <c>dotnet</c>.</summary>
    protected static string Cli => Path.Combine(TestContext.CurrentContext.TestDirectory, "qcow2mount.dll");

    protected string PathOf(string name) => Path.Combine(Dir, name);

    /// <summary>A qcow2 image made by qemu-img and qemu-io.</summary>
    protected string QemuImage(string name, string options, string size, params string[] ioCommands)
    {
        string path = PathOf(name);
        QemuTools.Ok("qemu-img", "create", "-q", "-f", "qcow2", "-o", options, path, size);
        foreach (var c in ioCommands)
        {
            QemuTools.Ok("qemu-io", "-f", "qcow2", "-c", c, path);
        }

        return path;
    }

    /// <summary>
    /// Runs the verb as a real process in the background, waits until <paramref name="started"/> says the work is
    /// under way, sends SIGINT as Ctrl+C does and returns the exit status with stdout and stderr.
    /// </summary>
    protected (string Status, string Stdout, string Stderr) Interrupt(string[] arguments, string started)
    {
        string args = string.Join(" ", arguments.Select(a => $"'{a}'"));
        string script = $$"""
            env --default-signal=INT dotnet '{{Cli}}' {{args}} >'{{PathOf("out")}}' 2>'{{PathOf("err")}}' &
            pid=$!
            for i in $(seq 3000); do
              if {{started}}; then break; fi
              sleep 0.01
            done
            kill -INT $pid
            wait $pid
            echo "status $?"
            """;
        var run = ProcessRunner.Run("bash", ["-c", script]);
        return (run.StandardOutput + run.StandardError, File.ReadAllText(PathOf("out")), File.ReadAllText(PathOf("err")));
    }
}
