using System.Text.Json.Nodes;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Core.Tests.Tools;

/// <summary>Runs qemu-img / qemu-io (the oracle) and returns exit code and output; JSON helpers for their --output=json.</summary>
internal static class Qemu
{
    public static (int Code, string Stdout, string Stderr) Run(string tool, params string[] args)
    {
        var r = ProcessRunner.Capture(tool, args);
        return (r.ExitCode, r.StandardOutput, r.StandardError);
    }

    /// <summary>Runs and requires exit code 0.</summary>
    public static string Ok(string tool, params string[] args)
    {
        var r = Run(tool, args);
        if (r.Code != 0)
        {
            throw new InvalidOperationException($"{tool} {string.Join(' ', args)} failed ({r.Code}): {r.Stderr}{r.Stdout}");
        }

        return r.Stdout;
    }

    public static void Create(string path, string options, long size) =>
        Ok("qemu-img", "create", "-q", "-f", "qcow2", "-o", options, path, size.ToString(System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>qemu-io with each command as one -c (on a qcow2 image).</summary>
    public static void Io(string path, params string[] commands)
    {
        var args = new List<string> { "-f", "qcow2" };
        foreach (var c in commands)
        {
            args.Add("-c");
            args.Add(c);
        }

        args.Add(path);
        Ok("qemu-io", args.ToArray());
    }

    public static JsonNode Json(string text) => JsonNode.Parse(text) ?? throw new InvalidOperationException("empty JSON");

    /// <summary>qemu-img check --output=json: exit code and the parsed object.</summary>
    public static (int Code, JsonObject Result) Check(string path)
    {
        var r = Run("qemu-img", "check", "--output=json", path);
        return (r.Code, r.Stdout.Length > 0 ? Json(r.Stdout).AsObject() : new JsonObject());
    }

    public static long Long(JsonObject o, string key) => o[key]?.GetValue<long>() ?? 0;

    public static bool Identical(string a, string b, string formatA = "qcow2", string formatB = "qcow2") =>
        Run("qemu-img", "compare", "-f", formatA, "-F", formatB, a, b).Code == 0;

    /// <summary>Patches bytes of a file in place.</summary>
    public static void Patch(string path, long offset, ReadOnlySpan<byte> bytes)
    {
        using var f = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite);
        RandomAccess.Write(f, bytes, offset);
    }

    public static ulong ReadU64(string path, long offset)
    {
        Span<byte> b = stackalloc byte[8];
        using var f = File.OpenHandle(path, FileMode.Open, FileAccess.Read);
        RandomAccess.Read(f, b, offset);
        return System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(b);
    }

    public static void WriteU64(string path, long offset, ulong value)
    {
        Span<byte> b = stackalloc byte[8];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(b, value);
        Patch(path, offset, b);
    }
}
