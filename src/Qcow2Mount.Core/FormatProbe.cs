using System.Buffers.Binary;

namespace Qcow2Mount.Core;

/// <summary>
/// What QEMU's format probe (qemu-img/qemu-io without -f) would call a file, from its first 512-byte sector: the
/// probes of the formats QEMU 7.2 builds with a content probe (each rule checked against qemu-io, which refuses
/// exactly these sectors on a probed raw image: tests/…/Tools/FormatProbeTests). dmg is probed by file name only and so
/// never claims a sector. "raw" when none of them claims it. Used to refuse files that are some other format's container, and to
/// keep a probed raw disk from being turned into one by a guest write to its first sector.
/// </summary>
public static class FormatProbe
{
    /// <summary>Bytes QEMU probes (BLOCK_PROBE_BUF_SIZE): the first sector.</summary>
    public const int SectorSize = 512;

    /// <summary>"QFI\xfb" read big-endian: the magic of qcow2 and of its predecessor qcow.</summary>
    public const uint QcowMagic = 0x514649FB;

    /// <summary>
    /// The format whose probe claims <paramref name="sector"/> (the file's first bytes; fewer than 512 when the file is
    /// shorter, and then read as if padded with zeros, as QEMU reads past the end of a short file).
    /// </summary>
    public static string Detect(ReadOnlySpan<byte> sector)
    {
        Span<byte> s = stackalloc byte[SectorSize];
        s.Clear();
        sector[..Math.Min(sector.Length, SectorSize)].CopyTo(s);

        uint be0 = BinaryPrimitives.ReadUInt32BigEndian(s);
        uint be4 = BinaryPrimitives.ReadUInt32BigEndian(s[4..]);
        if (be0 == QcowMagic)
        {
            // qcow2 claims versions 2 and up, qcow version 1; version 0 is nobody's.
            if (be4 >= 2)
            {
                return "qcow2";
            }

            if (be4 == 1)
            {
                return "qcow";
            }
        }

        if (s.StartsWith("QED\0"u8))
        {
            return "qed";
        }

        if (s.StartsWith("KDMV"u8) || s.StartsWith("COWD"u8) || IsVmdkDescriptor(s))
        {
            return "vmdk";
        }

        if (BinaryPrimitives.ReadUInt32LittleEndian(s[64..]) == 0xBEDA107F)
        {
            return "vdi";
        }

        if (s.StartsWith("conectix"u8))
        {
            return "vpc";
        }

        if (s.StartsWith("vhdxfile"u8))
        {
            return "vhdx";
        }

        if ((s.StartsWith("WithoutFreeSpace"u8) || s.StartsWith("WithouFreSpacExt"u8)) && BinaryPrimitives.ReadUInt32LittleEndian(s[16..]) == 2)
        {
            return "parallels";
        }

        if (IsBochs(s))
        {
            return "bochs";
        }

        if (s.StartsWith((ReadOnlySpan<byte>)[(byte)'L', (byte)'U', (byte)'K', (byte)'S', 0xBA, 0xBE]) && BinaryPrimitives.ReadUInt16BigEndian(s[6..]) == 1)
        {
            return "luks";
        }

        if (s.StartsWith("#!/bin/sh\n#V2.0 Format\nmodprobe cloop file=$0 && mount -r -t iso9660 /dev/cloop $1\n"u8))
        {
            return "cloop";
        }

        return "raw";
    }

    /// <summary>
    /// A VMDK text descriptor: after comment lines ('#' to the end of the line) and lines of spaces only, the first line
    /// is "version=1", "version=2" or "version=3" (LF or CRLF). Any other first line (an empty one included) is not.
    /// </summary>
    private static bool IsVmdkDescriptor(ReadOnlySpan<byte> s)
    {
        int p = 0;
        while (p < s.Length)
        {
            if (s[p] == (byte)'#')
            {
                int eol = s[p..].IndexOf((byte)'\n');
                p = eol < 0 ? s.Length : p + eol + 1;
                continue;
            }

            if (s[p] == (byte)' ')
            {
                while (p < s.Length && s[p] == (byte)' ')
                {
                    p++;
                }

                if (p < s.Length && s[p] == (byte)'\r')
                {
                    p++;
                }

                if (p == s.Length || s[p] != (byte)'\n')
                {
                    return false;
                }

                p++;
                continue;
            }

            var line = s[p..];
            return line.StartsWith("version="u8) && line.Length >= 10 && line[8] is (byte)'1' or (byte)'2' or (byte)'3'
                && (line[9] == (byte)'\n' || (line.Length >= 11 && line[9] == (byte)'\r' && line[10] == (byte)'\n'));
        }

        return false;
    }

    /// <summary>Bochs growing redolog: NUL-terminated magic, type and subtype strings, version 1 or 2 (little-endian at 64).</summary>
    private static bool IsBochs(ReadOnlySpan<byte> s)
    {
        uint version = BinaryPrimitives.ReadUInt32LittleEndian(s[64..]);
        return CString(s[..32]).SequenceEqual("Bochs Virtual HD Image"u8)
            && CString(s[32..48]).SequenceEqual("Redolog"u8)
            && CString(s[48..64]).SequenceEqual("Growing"u8)
            && version is 0x00020000 or 0x00010000;
    }

    /// <summary>The bytes before the first NUL; a field without one is not a string (it would run into the next field).</summary>
    private static ReadOnlySpan<byte> CString(ReadOnlySpan<byte> field)
    {
        int nul = field.IndexOf((byte)0);
        return nul < 0 ? [] : field[..nul];
    }
}
