using System.Globalization;

namespace Qcow2Mount.Cli.Options;

/// <summary>Sizes as qemu-img reads them: plain bytes or a decimal number with a k/K, M, G, T, P or E suffix (powers of 1024).</summary>
internal static class SizeParser
{
    public const string Hint = "You may use k, M, G, T, P or E suffixes for kilobytes, megabytes, gigabytes, terabytes, petabytes and exabytes.";

    /// <summary>Parses a non-negative size; null when the text is not one.</summary>
    public static long? TryParse(string text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return null;
        }

        int shift = char.ToUpperInvariant(text[^1]) switch
        {
            'B' => 0,
            'K' => 10,
            'M' => 20,
            'G' => 30,
            'T' => 40,
            'P' => 50,
            'E' => 60,
            _ => -1,
        };
        string number = shift >= 0 ? text[..^1] : text;
        if (number.Length == 0 || !number.All(c => char.IsAsciiDigit(c) || c == '.'))
        {
            return null;
        }

        if (!decimal.TryParse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out decimal value))
        {
            return null;
        }

        decimal bytes = value * (decimal)Math.Pow(2, Math.Max(shift, 0));
        if (bytes != decimal.Truncate(bytes) || bytes > long.MaxValue)
        {
            return null;
        }

        return (long)bytes;
    }

    /// <summary>Parses a size or throws a usage error naming <paramref name="what"/>.</summary>
    public static long Parse(string text, string what = "image size") =>
        TryParse(text) ?? throw new UsageException($"Invalid {what} '{text}' specified. {Hint}");
}
