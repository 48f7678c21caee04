using Qcow2Mount.Core.Qcow2;
using Qcow2Mount.Core.Storage;

namespace Qcow2Mount.Core;

/// <summary>Opens an image file of either format this program knows (qcow2 by its magic, else raw).</summary>
public static class DiskImage
{
    public static IVirtualDisk Open(string path, ImageOpenOptions options) => Open(path, null, options);

    /// <summary>Opens <paramref name="path"/> as <paramref name="format"/>: "qcow2", "raw", or null to probe the magic.</summary>
    /// <exception cref="ArgumentException">A format other than qcow2 or raw.</exception>
    public static IVirtualDisk Open(string path, string? format, ImageOpenOptions options) => (format ?? ProbeFormat(path)) switch
    {
        "qcow2" => Qcow2Image.Open(path, options),
        "raw" => new RawDisk(FileBlockDevice.Open(path, options.ReadOnly, options.Lock)),
        var other => throw new ArgumentException($"Unknown file format '{other}' (qcow2 or raw)"),
    };

    /// <summary>"qcow2" when the file starts with the qcow2 magic, else "raw".</summary>
    public static string ProbeFormat(string path)
    {
        Span<byte> magic = stackalloc byte[4];
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        int n = RandomAccess.Read(handle, magic, 0);
        return n == 4 && magic.SequenceEqual(stackalloc byte[] { 0x51, 0x46, 0x49, 0xFB }) ? "qcow2" : "raw";
    }
}
