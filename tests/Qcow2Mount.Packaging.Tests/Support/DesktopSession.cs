using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Packaging.Tests.Support;

/// <summary>
/// What a desktop session gives a program it starts, in a test folder: an XDG_RUNTIME_DIR, and on PATH (first) an
/// xdg-open stand-in that records what it was asked to open (there is no desktop here to open it). Dispose takes down
/// every mount left under the folder and deletes it.
/// </summary>
internal sealed class DesktopSession : IDisposable
{
    private readonly TempDir _dir;
    private readonly Func<string, ProcessResult> _unmount;

    /// <param name="unmount">how to end a qcow2mount mount the test left (the build under test's unmount verb).</param>
    public DesktopSession(string label, Func<string, ProcessResult> unmount)
    {
        _dir = new TempDir(label);
        _unmount = unmount;
        RuntimeDir = Directory.CreateDirectory(_dir.File("run")).FullName;
        ProcessRunner.Run("chmod", ["700", RuntimeDir]);
        Directory.CreateDirectory(_dir.File("bin"));
        File.WriteAllText(_dir.File("bin/xdg-open"), $"#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{OpenedLog}'\n");
        ProcessRunner.Run("chmod", ["755", _dir.File("bin/xdg-open")]);
        Environment = new Dictionary<string, string?>
        {
            ["XDG_RUNTIME_DIR"] = RuntimeDir,
            ["PATH"] = _dir.File("bin") + ":" + (System.Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin"),
        };
    }

    public string Root => _dir.Path;

    public string RuntimeDir { get; }

    /// <summary>Where `qcow2mount open` makes its folders.</summary>
    public string MountRoot => Path.Combine(RuntimeDir, "qcow2mount");

    /// <summary>One line per xdg-open call (its arguments); missing while xdg-open was never run.</summary>
    public string OpenedLog => _dir.File("xdg-open.log");

    /// <summary>What xdg-open was asked to open, in order.</summary>
    public string[] Opened => File.Exists(OpenedLog) ? File.ReadAllLines(OpenedLog) : [];

    /// <summary>The session's variables (XDG_RUNTIME_DIR, PATH); a test may change them.</summary>
    public Dictionary<string, string?> Environment { get; }

    public string PathOf(string name) => _dir.File(name);

    /// <summary>A 32 MiB qcow2 image made by qemu-img, with a pattern written by qemu-io (in FOLDER/NAME under the session's folder).</summary>
    public string QemuImage(string name, string folder = "images", int pattern = 0x5a)
    {
        string path = Path.Combine(Directory.CreateDirectory(_dir.File(folder)).FullName, name);
        ProcessRunner.Run("qemu-img", ["create", "-q", "-f", "qcow2", path, "32M"]);
        ProcessRunner.Run("qemu-io", ["-c", $"write -P {pattern} 1M 2M", path]);
        return path;
    }

    /// <summary>SHA-256 of the image's disk as qemu-img converts it to raw (-U: a mount may hold the image's lock).</summary>
    public string RawSha256(string image)
    {
        string raw = _dir.File($"twin-{Guid.NewGuid():N}.raw");
        ProcessRunner.Run("qemu-img", ["convert", "-U", "-O", "raw", image, raw]);
        string sha = Checksum.Sha256OfFile(raw);
        File.Delete(raw);
        return sha;
    }

    public void Dispose()
    {
        Mounts.TakeDown(_dir.Path, _unmount);
        _dir.Dispose();
    }
}
