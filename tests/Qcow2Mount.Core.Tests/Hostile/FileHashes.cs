using System.Security.Cryptography;
using Qcow2Mount.Core.Storage;

namespace Qcow2Mount.Core.Tests.Hostile;

/// <summary>SHA-256 of every regular file in a directory (FIFOs and devices are skipped: reading them could block).</summary>
internal static class FileHashes
{
    public static Dictionary<string, string> Of(string dir) =>
        Directory.EnumerateFiles(dir)
            .Where(f => FileKind.Of(f) == FileKind.Kind.Regular)
            .ToDictionary(f => Path.GetFileName(f), f => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(f))));
}
