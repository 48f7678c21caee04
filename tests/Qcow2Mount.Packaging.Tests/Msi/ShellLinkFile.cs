using System.Text;

namespace Qcow2Mount.Packaging.Tests.Msi;

/// <summary>
/// The parts of a Windows shortcut (.lnk, [MS-SHLLINK]) a Start-menu test looks at: the target's local path (LinkInfo),
/// and the StringData entries (description, working folder, arguments, icon).
/// </summary>
internal sealed record ShellLinkFile(string? TargetPath, string? Description, string? WorkingDirectory, string? Arguments, string? IconLocation)
{
    private const int HeaderSize = 0x4C;

    [Flags]
    private enum LinkFlags : uint
    {
        HasLinkTargetIdList = 0x01,
        HasLinkInfo = 0x02,
        HasName = 0x04,
        HasRelativePath = 0x08,
        HasWorkingDir = 0x10,
        HasArguments = 0x20,
        HasIconLocation = 0x40,
        IsUnicode = 0x80,
    }

    public static ShellLinkFile Read(string path)
    {
        byte[] b = File.ReadAllBytes(path);
        if (b.Length < HeaderSize || BitConverter.ToUInt32(b, 0) != HeaderSize)
        {
            throw new InvalidDataException($"{path}: not a shell link (header size)");
        }

        var flags = (LinkFlags)BitConverter.ToUInt32(b, 0x14);
        int at = HeaderSize;
        if (flags.HasFlag(LinkFlags.HasLinkTargetIdList))
        {
            at += 2 + BitConverter.ToUInt16(b, at);
        }

        string? target = null;
        if (flags.HasFlag(LinkFlags.HasLinkInfo))
        {
            int size = BitConverter.ToInt32(b, at);
            int localBasePathOffset = BitConverter.ToInt32(b, at + 0x10);
            if (localBasePathOffset != 0)
            {
                int start = at + localBasePathOffset;
                int end = Array.IndexOf(b, (byte)0, start);
                target = Encoding.Latin1.GetString(b, start, end - start);
            }

            at += size;
        }

        bool unicode = flags.HasFlag(LinkFlags.IsUnicode);
        string? Next(LinkFlags flag)
        {
            if (!flags.HasFlag(flag))
            {
                return null;
            }

            int chars = BitConverter.ToUInt16(b, at);
            int bytes = unicode ? chars * 2 : chars;
            string s = unicode ? Encoding.Unicode.GetString(b, at + 2, bytes) : Encoding.Latin1.GetString(b, at + 2, bytes);
            at += 2 + bytes;
            return s.TrimEnd('\0'); // Wine counts the terminating NUL, Windows does not
        }

        string? description = Next(LinkFlags.HasName);
        _ = Next(LinkFlags.HasRelativePath);
        string? workingDirectory = Next(LinkFlags.HasWorkingDir);
        string? arguments = Next(LinkFlags.HasArguments);
        string? icon = Next(LinkFlags.HasIconLocation);
        return new ShellLinkFile(target, description, workingDirectory, arguments, icon);
    }
}
