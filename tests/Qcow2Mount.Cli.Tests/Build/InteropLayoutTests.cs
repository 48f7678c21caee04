using System.Text.RegularExpressions;

namespace Qcow2Mount.Cli.Tests.Build;

/// <summary>
/// Where native calls live: each assembly's Interop/ folder, one function per file named Class.Function.cs, each
/// native function bound once per assembly, and none in the command line, which reaches the platform only through
/// the mount host (not Qcow2Mount.Fuse.Interop).
/// </summary>
[TestFixture]
internal sealed partial class InteropLayoutTests
{
    /// <summary>Bindings still in the engine's storage files, to move with it behind a platform interface.</summary>
    private static readonly string[] NotYetMoved =
    [
        "src/Qcow2Mount.Core/Storage/FileBlockDevice.cs",
        "src/Qcow2Mount.Core/Storage/ImageFileLock.Native.cs",
    ];

    private static readonly string Source = Path.Combine(ScriptRun.RepositoryRoot, "src");

    [Test]
    public void CommandLine_NoNativeCallsAndNoFuseInterop()
    {
        var offending = SourceFiles("Qcow2Mount.Cli")
            .Where(f => File.ReadAllText(f) is var text && (text.Contains("LibraryImport", StringComparison.Ordinal) || text.Contains("Fuse.Interop", StringComparison.Ordinal)))
            .Select(Relative);
        Assert.That(offending, Is.Empty);
    }

    [Test]
    public void LibraryImports_InInteropFolderOneFunctionPerFileNamedForIt()
    {
        var problems = new List<string>();
        foreach (string file in SourceFiles(""))
        {
            var imports = ImportedMethod().Matches(File.ReadAllText(file)).Select(m => m.Groups[1].Value).ToList();
            string relative = Relative(file);
            if (imports.Count == 0 || NotYetMoved.Contains(relative))
            {
                continue;
            }

            string name = Path.GetFileNameWithoutExtension(file);
            if (Path.GetFileName(Path.GetDirectoryName(file)) != "Interop" || imports.Count != 1 || !name.EndsWith("." + imports[0], StringComparison.Ordinal))
            {
                problems.Add($"{relative}: {string.Join(", ", imports)}");
            }
        }

        Assert.That(problems, Is.Empty, "a [LibraryImport] belongs in Interop/Class.Function.cs, alone");
    }

    [Test]
    public void NativeFunctions_EachBoundOncePerAssembly()
    {
        var twice = Directory.GetDirectories(Source)
            .SelectMany(project => SourceFiles(Path.GetFileName(project))
                .SelectMany(f => Binding().Matches(File.ReadAllText(f))
                    .Select(m => (Project: Path.GetFileName(project), Function: m.Groups[1].Success ? m.Groups[1].Value : m.Groups[2].Value))))
            .GroupBy(b => b)
            .Where(g => g.Count() > 1)
            .Select(g => $"{g.Key.Project}: {g.Key.Function} x{g.Count()}");
        Assert.That(twice, Is.Empty);
    }

    private static IEnumerable<string> SourceFiles(string project) =>
        Directory.EnumerateFiles(Path.Combine(Source, project), "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal));

    private static string Relative(string path) => Path.GetRelativePath(ScriptRun.RepositoryRoot, path).Replace('\\', '/');

    // The method declared after a [LibraryImport(...)] (and any further attributes).
    [GeneratedRegex(@"\[LibraryImport\([^\]]*\)\]\s*(?:\[[^\]]*\]\s*)*[\w\s]*?\bpartial\s+[\w*?]+\s+(\w+)\s*\(")]
    private static partial Regex ImportedMethod();

    // A [LibraryImport]'s native symbol: its EntryPoint (group 1), else the method's name (group 2).
    [GeneratedRegex(@"\[LibraryImport\((?:[^\]]*?EntryPoint\s*=\s*""(\w+)"")?[^\]]*\)\]\s*(?:\[[^\]]*\]\s*)*[\w\s]*?\bpartial\s+[\w*?]+\s+(\w+)\s*\(")]
    private static partial Regex Binding();
}
