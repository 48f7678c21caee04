namespace Qcow2Mount.Fuse.Tests.Support;

/// <summary>Base of the tests that touch real files and mounts: a fresh <see cref="Scratch"/> per test, always taken down.</summary>
[NonParallelizable]
public abstract class ScratchFixture
{
    internal Scratch Scratch { get; private set; } = null!;

    [SetUp]
    public void CreateScratch() => Scratch = new Scratch();

    [TearDown]
    public void RemoveScratch() => Scratch.Dispose();
}
