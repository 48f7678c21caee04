using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Cli.Tests.Commands;

/// <summary>
/// The twin method for commit and rebase: a chain is built once by qemu-img/qemu-io, copied into <c>twin/</c> (backing
/// names are relative, so the copy is a chain of its own), then we run on one and qemu-img on the other.
/// </summary>
public abstract class ChainCommandTestBase : CommandTestBase
{
    protected string Twin(string name) => Path.Combine(Dir, "twin", name);

    /// <summary>A qcow2 overlay named <paramref name="name"/> over <paramref name="backing"/> (a relative name, as users write it).</summary>
    protected string Overlay(string name, string backing, string backingFormat, string options = "cluster_size=65536", string? size = null, params string[] ioCommands)
    {
        var arguments = new List<string> { "create", "-q", "-f", "qcow2", "-o", options, "-b", backing, "-F", backingFormat, PathOf(name) };
        if (size is not null)
        {
            arguments.Add(size);
        }

        QemuTools.Ok("qemu-img", [.. arguments]);
        foreach (var c in ioCommands)
        {
            QemuTools.Ok("qemu-io", "-f", "qcow2", "-c", c, PathOf(name));
        }

        return PathOf(name);
    }

    /// <summary>Copies the named files of the test directory into <c>twin/</c>.</summary>
    protected void MakeTwins(params string[] names)
    {
        Directory.CreateDirectory(Path.Combine(Dir, "twin"));
        foreach (var n in names)
        {
            File.Copy(PathOf(n), Twin(n));
        }
    }

    /// <summary>qemu-img map's runs without host offsets: which ranges are allocated where, zero or data.</summary>
    protected static string Shape(string path, string format = "qcow2") =>
        string.Join("\n", QemuTools.Map(path, format).Select(e => $"{e.Start}+{e.Length} depth={e.Depth} present={e.Present} zero={e.Zero} data={e.Data}"));

    protected static void AssertSameContent(string ours, string theirs, string format = "qcow2") =>
        Assert.That(QemuTools.CompareResult(ours, theirs, format, format).StandardOutput, Is.EqualTo("Images are identical.\n"), $"{ours} against qemu-img's twin");

    protected static void AssertClean(params string[] images)
    {
        foreach (var image in images)
        {
            var check = QemuTools.Check(image);
            Assert.That(check.IsClean, Is.True, $"{image}: {check}");
        }
    }

    protected static void AssertOneLine(string stderr, string expected) =>
        Assert.That(stderr, Is.EqualTo($"qcow2mount: {expected}\n"));

    /// <summary>qemu-img's error line without its "qemu-img: " prefix (the twin's paths replaced by ours).</summary>
    protected string QemuError(string stderr) =>
        stderr.StartsWith("qemu-img: ", StringComparison.Ordinal) ? stderr["qemu-img: ".Length..].Split('\n')[0].Replace(Path.Combine(Dir, "twin"), Dir, StringComparison.Ordinal) : stderr;
}
