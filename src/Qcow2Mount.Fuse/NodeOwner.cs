using System.Globalization;

namespace Qcow2Mount.Fuse;

/// <summary>
/// Owner and permission bits every node reports: the serving user by default (checked by the kernel under
/// default_permissions), or the mount options uid=, gid= and umask= (libfuse's meaning: umask replaces the bits).
/// </summary>
internal readonly record struct NodeOwner(uint Uid, uint Gid, uint? Umask = null)
{
    private const uint TypeMask = 0xF000; // S_IFMT

    public uint Apply(uint mode) => Umask is uint umask ? (mode & TypeMask) | (0x1FF /* 0777 */ & ~umask) : mode;

    /// <summary>
    /// The owner for <paramref name="options"/> (libfuse <c>-o</c> items); returns the options the kernel mount takes,
    /// without uid=, gid= and umask=. A value that is not a decimal id (or an octal umask) is a <see cref="FuseMountException"/>.
    /// </summary>
    public static NodeOwner FromOptions(IReadOnlyList<string> options, uint uid, uint gid, out List<string> mountOptions)
    {
        uint? umask = null;
        mountOptions = [];
        foreach (string option in options)
        {
            if (option.StartsWith("uid=", StringComparison.Ordinal))
            {
                uid = Id(option);
            }
            else if (option.StartsWith("gid=", StringComparison.Ordinal))
            {
                gid = Id(option);
            }
            else if (option.StartsWith("umask=", StringComparison.Ordinal))
            {
                umask = Mask(option);
            }
            else
            {
                mountOptions.Add(option);
            }
        }

        return new NodeOwner(uid, gid, umask);
    }

    private static uint Id(string option) =>
        uint.TryParse(option.AsSpan(4), NumberStyles.None, CultureInfo.InvariantCulture, out uint id) ? id : throw Invalid(option, "a decimal id");

    private static uint Mask(string option)
    {
        string digits = option[6..];
        uint mask = 0;
        foreach (char c in digits)
        {
            mask = c is >= '0' and <= '7' && mask <= 0x1FF ? (mask << 3) | (uint)(c - '0') : throw Invalid(option, "an octal mask up to 0777");
        }

        return digits.Length > 0 && mask <= 0x1FF ? mask : throw Invalid(option, "an octal mask up to 0777");
    }

    private static FuseMountException Invalid(string option, string expected) =>
        new($"mount option '{option}': expected {expected}");
}
