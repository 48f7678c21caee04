using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Core.Tests.Tools;

/// <summary>A temporary directory per test, removed afterwards.</summary>
public abstract class ToolsTestDirectory
{
    protected string Dir { get; private set; } = "";

    [SetUp]
    public void CreateDirectory() => Dir = TempDir.Create("tools");

    [TearDown]
    public void DeleteDirectory() => TempDir.Delete(Dir);

    protected string PathOf(string name) => Path.Combine(Dir, name);
}
