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
}
