using System.Globalization;

namespace Qcow2Mount.FuseLimit;

/// <summary>Sizes as scripts/bench.sh writes them: a number of bytes, or with k, M, G or T (powers of 1024).</summary>
internal static class Sizes
{
    public static long Parse(string text)
    {
        int shift = text.Length == 0 ? 0 : char.ToUpperInvariant(text[^1]) switch { 'K' => 10, 'M' => 20, 'G' => 30, 'T' => 40, _ => 0 };
        string number = shift == 0 ? text : text[..^1];
        return checked(long.Parse(number, NumberStyles.None, CultureInfo.InvariantCulture) * (1L << shift));
    }
}
