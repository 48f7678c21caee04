using System.Text;
using System.Text.Json;

namespace Qcow2Mount.Cli.Options;

/// <summary>The <c>--output=human|json</c> choice and the JSON writer settings that match qemu-img's layout (4-space indent).</summary>
internal static class OutputFormat
{
    /// <summary>True for json, false for human; anything else is a usage error.</summary>
    public static bool IsJson(string verb, string? value) => value switch
    {
        null or "human" => false,
        "json" => true,
        _ => throw new UsageException($"{verb}: --output must be used with human or json as argument."),
    };

    /// <summary>Runs <paramref name="write"/> on an indented writer and returns the text.</summary>
    public static string Json(Action<Utf8JsonWriter> write)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, IndentSize = 4, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            write(writer);
        }

        return Encoding.UTF8.GetString(stream.ToArray());
    }

    /// <summary>qemu's size_to_str: three significant digits, binary units, switching unit at 1000.</summary>
    public static string HumanSize(long bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
        int i = 0;
        double value = bytes;
        while (i < units.Length - 1 && value >= 1000)
        {
            value /= 1024;
            i++;
        }

        return FormattableString.Invariant($"{value:G3} {units[i]}");
    }
}
