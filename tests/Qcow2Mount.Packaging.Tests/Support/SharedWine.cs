using Qcow2Mount.TestSupport;
using Qcow2Mount.TestSupport.Wine;

namespace Qcow2Mount.Packaging.Tests.Support;

/// <summary>
/// One Wine prefix for the whole test run (making one costs ~10-15 s and ~700 MB), in its own scratch folder, with a fake
/// WinFsp registration (HKLM\SOFTWARE\WinFsp InstallDir in the 32-bit view, what WinFsp's MSI writes) so that the
/// MSI's launch condition passes. Tests that change the prefix put it back; <see cref="RunTeardown"/> deletes it.
/// </summary>
internal static class SharedWine
{
    public const string WinFspKey = @"HKLM\SOFTWARE\WinFsp";
    public const string WinFspInstallDir = @"C:\Program Files (x86)\WinFsp\";

    private static readonly Lazy<(TempDir Dir, WinePrefix Prefix)> Instance = new(Create, LazyThreadSafetyMode.ExecutionAndPublication);

    public static WinePrefix Prefix => Instance.Value.Prefix;

    public static void RegisterFakeWinFsp() =>
        Prefix.SetValue(WinFspKey, "InstallDir", "REG_SZ", WinFspInstallDir, WineRegistryView.Registry32);

    /// <summary>Called once after the last test: ends the prefix's wineserver and deletes it.</summary>
    public static void RunTeardown()
    {
        if (Instance.IsValueCreated)
        {
            Instance.Value.Prefix.Dispose();
            Instance.Value.Dir.Dispose();
        }
    }

    private static (TempDir, WinePrefix) Create()
    {
        var dir = new TempDir("wine");
        try
        {
            return (dir, WinePrefix.Create(Path.Combine(dir.Path, "prefix")));
        }
        catch
        {
            dir.Dispose();
            throw;
        }
    }
}
