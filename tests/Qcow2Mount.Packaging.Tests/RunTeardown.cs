using Qcow2Mount.Packaging.Tests.Support;

namespace Qcow2Mount.Packaging.Tests;

/// <summary>After every test of the assembly: the shared Wine prefix goes (its wineserver first), and the newer test MSI.</summary>
[SetUpFixture]
internal sealed class RunTeardown
{
    [OneTimeTearDown]
    public void DeleteSharedState()
    {
        SharedWine.RunTeardown();
        PackageArtifacts.RunTeardown();
    }
}
