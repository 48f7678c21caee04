using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Qcow2Mount.TestSupport;

/// <summary>
/// The QEMU oracle: <c>qemu-img</c> and <c>qemu-io</c> run with argument lists (no shell). Every helper throws
/// <see cref="ExternalCommandException"/> with the command line and stderr when the tool fails unexpectedly.
/// A missing tool fails the test with the package that provides it (<see cref="RequiredTools"/>), never skips it.
/// </summary>
public static class QemuTools
{
    /// <summary>Runs <c>qemu-img</c>; throws unless it exits 0.</summary>
    public static ProcessResult QemuImg(params string[] arguments) => QemuImg(arguments, 0);

    /// <summary>Runs <c>qemu-img</c>; throws unless it exits with one of <paramref name="expectedExitCodes"/>.</summary>
    public static ProcessResult QemuImg(IReadOnlyList<string> arguments, params int[] expectedExitCodes)
    {
        RequiredTools.Require("qemu-img");
        return ProcessRunner.Run("qemu-img", arguments, expectedExitCodes);
    }

    /// <summary>
    /// Runs <paramref name="tool"/> (qemu-img, qemu-io, …) and returns whatever it exited with and printed: for tests that
    /// hold QEMU's exit code and output against ours.
    /// </summary>
    public static (int Code, string Stdout, string Stderr) Run(string tool, params string[] arguments)
    {
        RequiredTools.Require(tool);
        ProcessResult result = ProcessRunner.Capture(tool, arguments);
        return (result.ExitCode, result.StandardOutput, result.StandardError);
    }

    /// <summary>Runs <paramref name="tool"/>; throws (with the command line and stderr) unless it exits 0; returns stdout.</summary>
    public static string Ok(string tool, params string[] arguments)
    {
        RequiredTools.Require(tool);
        return ProcessRunner.Output(tool, arguments);
    }

    /// <summary><c>qemu-img create -q -f qcow2 -o OPTIONS path size</c> with the options as one string (<c>k=v,k=v</c>).</summary>
    public static void Create(string path, string options, long size) =>
        QemuImg("create", "-q", "-f", "qcow2", "-o", options, path, size.ToString(CultureInfo.InvariantCulture));

    /// <summary><c>qemu-img check --output=json</c>: the exit code and the parsed object (empty when QEMU printed none).</summary>
    public static (int Code, JsonObject Result) CheckJson(string path)
    {
        var (code, stdout, _) = Run("qemu-img", "check", "--output=json", path);
        return (code, stdout.Length > 0 ? Json(stdout).AsObject() : new JsonObject());
    }

    /// <summary>Parses QEMU's <c>--output=json</c>.</summary>
    public static JsonNode Json(string text) => JsonNode.Parse(text) ?? throw new InvalidOperationException("empty JSON");

    /// <summary>A number of QEMU's JSON that QEMU leaves out when it is 0.</summary>
    public static long Long(JsonObject o, string key) => o[key]?.GetValue<long>() ?? 0;

    /// <summary><c>qemu-img create -f format [-o k=v,…] path size</c>. Option values are escaped (a comma is doubled).</summary>
    public static void Create(string path, long size, IReadOnlyDictionary<string, string>? options = null, string format = "qcow2")
    {
        var arguments = new List<string> { "create", "-q", "-f", format };
        if (options is { Count: > 0 })
        {
            arguments.Add("-o");
            arguments.Add(FormatOptions(options));
        }

        arguments.Add(path);
        arguments.Add(size.ToString(CultureInfo.InvariantCulture));
        QemuImg(arguments);
    }

    /// <summary>Creates a qcow2 overlay of <paramref name="backingPath"/>; <paramref name="size"/> null = the backing file's size.</summary>
    public static void CreateOverlay(string path, string backingPath, string backingFormat, long? size = null, IReadOnlyDictionary<string, string>? options = null)
    {
        var arguments = new List<string> { "create", "-q", "-f", "qcow2", "-b", Path.GetFullPath(backingPath), "-F", backingFormat };
        if (options is { Count: > 0 })
        {
            arguments.Add("-o");
            arguments.Add(FormatOptions(options));
        }

        arguments.Add(path);
        if (size is long s)
        {
            arguments.Add(s.ToString(CultureInfo.InvariantCulture));
        }

        QemuImg(arguments);
    }

    /// <summary><c>qemu-img convert -O raw</c> (optionally of an internal snapshot: <c>-l snapshot.name=…</c>).</summary>
    public static void ConvertToRaw(string source, string destination, string sourceFormat = "qcow2", string? snapshotName = null)
    {
        var arguments = new List<string> { "convert", "-f", sourceFormat };
        if (snapshotName is not null)
        {
            arguments.Add("-l");
            arguments.Add("snapshot.name=" + EscapeOptionValue(snapshotName));
        }

        arguments.AddRange(["-O", "raw", source, destination]);
        QemuImg(arguments);
    }

    /// <summary><c>qemu-img convert -O qcow2 [-c] [-o …]</c>.</summary>
    public static void ConvertToQcow2(string source, string destination, string sourceFormat, bool compress, IReadOnlyDictionary<string, string>? options = null)
    {
        var arguments = new List<string> { "convert", "-f", sourceFormat, "-O", "qcow2" };
        if (compress)
        {
            arguments.Add("-c");
        }

        if (options is { Count: > 0 })
        {
            arguments.Add("-o");
            arguments.Add(FormatOptions(options));
        }

        arguments.AddRange([source, destination]);
        QemuImg(arguments);
    }

    /// <summary><c>qemu-img compare</c>: true when the guest-visible contents are identical (exit 0), false when they differ (exit 1).</summary>
    public static bool Compare(string first, string second, string firstFormat = "qcow2", string secondFormat = "raw") =>
        CompareResult(first, second, firstFormat, secondFormat).ExitCode == 0;

    /// <summary><c>qemu-img compare</c> with its output, for failure messages ("Content mismatch at offset …").</summary>
    public static ProcessResult CompareResult(string first, string second, string firstFormat = "qcow2", string secondFormat = "raw") =>
        QemuImg(["compare", "-f", firstFormat, "-F", secondFormat, first, second], 0, 1);

    /// <summary><c>qemu-img check --output=json</c>, parsed (zero counts are omitted by QEMU and read as 0).</summary>
    public static QemuCheckResult Check(string path, string format = "qcow2")
    {
        ProcessResult result = QemuImg(["check", "--output=json", "-f", format, path], 0, 2, 3);
        using JsonDocument json = JsonDocument.Parse(result.StandardOutput);
        JsonElement root = json.RootElement;
        return new QemuCheckResult(
            result.ExitCode,
            Optional(root, "corruptions"),
            Optional(root, "leaks"),
            Optional(root, "check-errors"),
            Optional(root, "image-end-offset"),
            result.StandardOutput + result.StandardError);
    }

    /// <summary><c>qemu-img info --output=json</c> as a detached JSON element.</summary>
    public static JsonElement Info(string path, string format = "qcow2")
    {
        ProcessResult result = QemuImg("info", "--output=json", "-f", format, path);
        using JsonDocument json = JsonDocument.Parse(result.StandardOutput);
        return json.RootElement.Clone();
    }

    /// <summary><c>qemu-img map --output=json</c>: the runs of the whole virtual disk, in order.</summary>
    public static IReadOnlyList<QemuMapEntry> Map(string path, string format = "qcow2")
    {
        ProcessResult result = QemuImg("map", "--output=json", "-f", format, path);
        using JsonDocument json = JsonDocument.Parse(result.StandardOutput);
        return json.RootElement.EnumerateArray()
            .Select(e => new QemuMapEntry(
                e.GetProperty("start").GetInt64(),
                e.GetProperty("length").GetInt64(),
                e.GetProperty("depth").GetInt32(),
                e.GetProperty("present").GetBoolean(),
                e.GetProperty("zero").GetBoolean(),
                e.GetProperty("data").GetBoolean(),
                e.TryGetProperty("offset", out JsonElement offset) ? offset.GetInt64() : null))
            .ToList();
    }

    /// <summary><c>qemu-img snapshot -c name</c>: an internal snapshot of the current state.</summary>
    public static void CreateSnapshot(string path, string name) => QemuImg("snapshot", "-c", name, path);

    /// <summary>
    /// <c>qemu-io -f qcow2 -c cmd1 -c cmd2 … path</c>, e.g. <c>QemuIo(p, "write -P 0xaa 0 4k")</c>.
    /// Throws when qemu-io exits non-zero or reports a failed command.
    /// </summary>
    public static ProcessResult QemuIo(string path, params string[] commands) => QemuIo(path, "qcow2", commands);

    /// <summary>qemu-io on an image of the given format (<c>raw</c> for raw backing files).</summary>
    public static ProcessResult QemuIo(string path, string format, IEnumerable<string> commands)
    {
        RequiredTools.Require("qemu-io");
        var arguments = new List<string> { "-f", format };
        foreach (string command in commands)
        {
            arguments.Add("-c");
            arguments.Add(command);
        }

        arguments.Add(path);
        ProcessResult result = ProcessRunner.Run("qemu-io", arguments);
        // qemu-io prints "<cmd> failed: <errno text>" and may still exit 0 for some commands.
        if (result.StandardOutput.Contains(" failed: ", StringComparison.Ordinal) || result.StandardError.Contains(" failed: ", StringComparison.Ordinal))
        {
            throw new ExternalCommandException($"qemu-io reported a failed command: {result}");
        }

        return result;
    }

    /// <summary>
    /// The guest bytes QEMU reads at <paramref name="offset"/> (<c>qemu-io -r -U -c "read -v OFFSET LENGTH"</c>, its hex
    /// dump parsed): the oracle for a range of an image QEMU opens but will not convert whole (a broken cluster elsewhere).
    /// </summary>
    public static byte[] ReadGuest(string path, long offset, int length, string format = "qcow2")
    {
        RequiredTools.Require("qemu-io");
        string command = string.Create(CultureInfo.InvariantCulture, $"read -v {offset} {length}");
        ProcessResult result = ProcessRunner.Run("qemu-io", ["-r", "-U", "-f", format, "-c", command, path]);
        if (result.StandardOutput.Contains(" failed: ", StringComparison.Ordinal) || result.StandardError.Length > 0)
        {
            throw new ExternalCommandException($"qemu-io could not read {length} bytes at {offset}: {result}");
        }

        var bytes = new byte[length];
        int seen = 0;
        foreach (string line in result.StandardOutput.Split('\n'))
        {
            int colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon != 8 || !long.TryParse(line.AsSpan(0, 8), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out long lineOffset))
            {
                continue;
            }

            int at = checked((int)(lineOffset - offset));
            string[] tokens = line[(colon + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            int count = Math.Min(16, length - at);
            for (int i = 0; i < count; i++)
            {
                bytes[at + i] = byte.Parse(tokens[i], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);
            }

            seen += count;
        }

        return seen == length
            ? bytes
            : throw new ExternalCommandException($"qemu-io's hex dump held {seen} of {length} bytes: {result.CommandLine}");
    }

    /// <summary>Formats <c>-o</c> options as <c>k=v,k=v</c> with QEMU's comma escaping.</summary>
    public static string FormatOptions(IReadOnlyDictionary<string, string> options) =>
        string.Join(',', options.Select(o => o.Key + "=" + EscapeOptionValue(o.Value)));

    private static string EscapeOptionValue(string value) => value.Replace(",", ",,", StringComparison.Ordinal);

    private static long Optional(JsonElement root, string name) =>
        root.TryGetProperty(name, out JsonElement value) ? value.GetInt64() : 0;
}
