namespace Qcow2Mount.WinFsp.Tests.Wine;

/// <summary>One <see cref="WineWorld"/> (fake DLL, the two win-x64 publishes, the prefix) for every Wine test of this namespace.</summary>
[SetUpFixture]
public sealed class WineWorldSetUp
{
    private static WineWorld? _world;

    internal static WineWorld World => _world ?? throw new InvalidOperationException("the Wine world is made by the set-up fixture");

    [OneTimeSetUp]
    public void OneTimeSetUp()
    {
        _world = new WineWorld();
        TestContext.Progress.WriteLine($"WinFsp Wine tests: setup (mingw builds, win-x64 publishes, Wine prefix) took {_world.SetupTime.TotalSeconds:F1} s");
    }

    [OneTimeTearDown]
    public void OneTimeTearDown()
    {
        _world?.Dispose();
        _world = null;
    }
}
