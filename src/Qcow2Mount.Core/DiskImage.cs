using System.Buffers.Binary;
using Qcow2Mount.Core.Errors;
using Qcow2Mount.Core.Qcow2;
using Qcow2Mount.Core.Storage;

namespace Qcow2Mount.Core;

/// <summary>
/// Opens an image file of either format this program knows. Without an explicit format the file is probed as QEMU
/// probes it (<see cref="FormatProbe"/>), with two refusals QEMU does not make: a file named <c>*.qcow2</c> without the
/// qcow2 magic (a broken container must not be written as a raw disk) and a file another format claims (its container
/// bytes are not its disk). A probed raw disk is written with QEMU's first-sector protection (<see cref="RawDisk"/>).
/// </summary>
public static class DiskImage
{
    public static IVirtualDisk Open(string path, ImageOpenOptions options) => Open(path, null, options);

    /// <summary>Opens <paramref name="path"/> as <paramref name="format"/>: "qcow2", "raw", or null to probe.</summary>
    /// <exception cref="ArgumentException">A format other than qcow2 or raw.</exception>
    /// <exception cref="ImageFormatException">Probing refuses the file (see <see cref="ResolveFormat"/>).</exception>
    public static IVirtualDisk Open(string path, string? format, ImageOpenOptions options)
    {
        string chosen = ResolveFormat(path, format);
        switch (chosen)
        {
            case "qcow2":
                return Qcow2Image.Open(path, options);
            case "raw":
                bool probed = format is null;
                if (probed && !options.ReadOnly)
                {
                    options.Log?.Invoke($"{path}: format not given and probed as raw: writes that would make its first sector look like another image format are refused; give the format raw explicitly to lift this");
                }

                return new RawDisk(FileBlockDevice.Open(path, options.ReadOnly, options.Lock), protectFirstSector: probed);
            default:
                throw new ArgumentException($"Unknown file format '{chosen}' (qcow2 or raw)");
        }
    }

    /// <summary>
    /// The format to open <paramref name="path"/> as: <paramref name="format"/> when given, else the probed one, which
    /// must be qcow2 or raw. Refused with a one-line <see cref="ImageFormatException"/>: a file whose name ends in
    /// .qcow2 but that has no qcow2 magic, and a file QEMU would open as another format (vmdk, vdi, …).
    /// </summary>
    public static string ResolveFormat(string path, string? format)
    {
        if (format is not null)
        {
            return format;
        }

        string probed = ProbeFormat(path);
        if (probed == "raw" && path.EndsWith(".qcow2", StringComparison.OrdinalIgnoreCase))
        {
            throw new ImageFormatException($"{path}: not a qcow2 image (its header has no qcow2 magic) although it is named .qcow2; if it really is a raw disk, give the format explicitly (-f raw; --format=raw for a mount)");
        }

        if (probed is not ("qcow2" or "raw"))
        {
            throw new ImageFormatException($"{path}: this is a {probed} image (QEMU's format probe), which qcow2mount cannot open (qcow2 and raw); to use the file as a raw disk anyway, give the format explicitly (-f raw; --format=raw for a mount)");
        }

        return probed;
    }

    /// <summary>
    /// The format QEMU's probe gives the file: "qcow2", "raw", or the name of another format (<see cref="FormatProbe"/>).
    /// One deviation: a file with the qcow2 magic but version 0 (QEMU's probe says raw) is "qcow2", so that opening it
    /// fails on the version with the engine's message instead of writing into it as a raw disk.
    /// </summary>
    public static string ProbeFormat(string path)
    {
        Span<byte> sector = stackalloc byte[FormatProbe.SectorSize];
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        int total = 0;
        while (total < sector.Length)
        {
            int n = RandomAccess.Read(handle, sector[total..], total);
            if (n == 0)
            {
                break;
            }

            total += n;
        }

        string detected = FormatProbe.Detect(sector[..total]);
        return detected == "raw" && total >= 4 && BinaryPrimitives.ReadUInt32BigEndian(sector) == FormatProbe.QcowMagic ? "qcow2" : detected;
    }
}
