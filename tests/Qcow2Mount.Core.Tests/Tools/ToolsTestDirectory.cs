namespace Qcow2Mount.Core.Tests.Tools;

/// <summary>A temporary directory per test, removed afterwards.</summary>
public abstract class ToolsTestDirectory
{
    protected string Dir { get; private set; } = "";

    [SetUp]
    public void CreateDirectory() => Dir = Directory.CreateTempSubdirectory("q2m-tools-").FullName;

    [TearDown]
    public void DeleteDirectory() => Directory.Delete(Dir, recursive: true);

    protected string PathOf(string name) => Path.Combine(Dir, name);
}
