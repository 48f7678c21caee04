namespace Qcow2Mount.TestSupport;

/// <summary>Overlay images over backing files full of seeded data, made by QEMU (the common start of the backing-file tests).</summary>
public static class TestImages
{
    /// <summary>
    /// Creates a backing file of <paramref name="backingFormat"/> ("raw" or "qcow2", fully allocated) with seeded data
    /// everywhere, next to <paramref name="overlayPath"/>, then the qcow2 overlay itself; returns the backing file's path.
    /// </summary>
    public static string CreateOverlayOfFilledBacking(
        string overlayPath,
        string backingFormat,
        long backingSize,
        int seed,
        long? overlaySize = null,
        IReadOnlyDictionary<string, string>? options = null)
    {
        string raw = PatternFile.FilledRaw(overlayPath + ".backing.raw", backingSize, seed);
        string backing = raw;
        if (backingFormat == "qcow2")
        {
            backing = overlayPath + ".backing.qcow2";
            QemuTools.ConvertToQcow2(raw, backing, "raw", compress: false);
            File.Delete(raw);
        }

        QemuTools.CreateOverlay(overlayPath, backing, backingFormat, overlaySize, options);
        return backing;
    }
}
