using System.Security.Cryptography;

namespace Qcow2Mount.TestSupport;

/// <summary>Content fingerprints and byte comparisons with messages that say where two contents part.</summary>
public static class Checksum
{
    /// <summary>SHA-256 of a whole file, lower-case hex.</summary>
    public static string Sha256OfFile(string path)
    {
        using FileStream stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    /// <summary>SHA-256 of a buffer, lower-case hex.</summary>
    public static string Sha256(ReadOnlySpan<byte> data) => Convert.ToHexStringLower(SHA256.HashData(data));

    /// <summary>Index of the first byte where the buffers differ (a length difference counts at the shorter length), or -1.</summary>
    public static long FirstDifference(ReadOnlySpan<byte> expected, ReadOnlySpan<byte> actual)
    {
        int common = expected.CommonPrefixLength(actual);
        return common == expected.Length && common == actual.Length ? -1 : common;
    }

    /// <summary>Empty when equal, else "first difference at guest offset X: expected .. actual .." with a few bytes of context.</summary>
    public static string DescribeDifference(ReadOnlySpan<byte> expected, ReadOnlySpan<byte> actual, long baseOffset = 0)
    {
        long at = FirstDifference(expected, actual);
        if (at < 0)
        {
            return string.Empty;
        }

        int i = (int)at;
        string Slice(ReadOnlySpan<byte> s) => i >= s.Length ? "<end>" : Convert.ToHexString(s.Slice(i, Math.Min(16, s.Length - i)));
        return $"first difference at offset {baseOffset + at} (0x{baseOffset + at:x}): expected {Slice(expected)} actual {Slice(actual)}" +
            (expected.Length == actual.Length ? string.Empty : $" (lengths {expected.Length} vs {actual.Length})");
    }
}
