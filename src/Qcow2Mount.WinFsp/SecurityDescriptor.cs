using System.Buffers.Binary;
using System.Globalization;
using System.Security.Principal;

namespace Qcow2Mount.WinFsp;

/// <summary>
/// The self-relative security descriptor every node of a volume reports, built byte by byte from the documented
/// layout (SECURITY_DESCRIPTOR_RELATIVE, SID, ACL, ACCESS_ALLOWED_ACE; all little-endian except a SID's 48-bit
/// authority) so it needs no Windows API. In SDDL: <c>O:{user}G:{user}D:P(A;;FA;;;SY)(A;;FA;;;BA)(A;;FA;;;{user})</c>:
/// owned by the user who mounts, a protected DACL giving SYSTEM and Administrators full access (as WinFsp's samples
/// do, so backup and system tools keep working) and the user full access — nobody else. The group is the user too
/// (a volume of one user's images has no other group to name). Access is decided by the kernel from it; read-only
/// mounts are enforced by the callbacks (STATUS_MEDIA_WRITE_PROTECTED).
/// </summary>
internal sealed class SecurityDescriptor
{
    /// <summary>FILE_ALL_ACCESS (SDDL "FA").</summary>
    public const uint FileAllAccess = 0x001F01FF;

    private const string LocalSystem = "S-1-5-18";
    private const string Administrators = "S-1-5-32-544";
    private const byte Revision = 1;
    private const byte AclRevision = 2;
    private const byte AccessAllowedAceType = 0;
    private const ushort SelfRelative = 0x8000;
    private const ushort DaclProtected = 0x1000;
    private const ushort DaclPresent = 0x0004;
    private const int HeaderSize = 20;
    private const int AclHeaderSize = 8;
    private const int AceHeaderSize = 8;

    private readonly byte[] _bytes;

    private SecurityDescriptor(string owner, byte[] bytes)
    {
        Owner = owner;
        _bytes = bytes;
    }

    /// <summary>The owner's SID ("S-1-5-21-…").</summary>
    public string Owner { get; }

    /// <summary>The descriptor in SDDL, as Windows' ConvertSecurityDescriptorToStringSecurityDescriptor writes it.</summary>
    public string Sddl => $"O:{Owner}G:{Owner}D:P(A;;FA;;;SY)(A;;FA;;;BA)(A;;FA;;;{Owner})";

    /// <summary>The descriptor's bytes (callers only read them).</summary>
    public ReadOnlySpan<byte> Bytes => _bytes;

    /// <summary>The descriptor for the user this process runs as (Windows only: the token's user SID).</summary>
    public static SecurityDescriptor ForCurrentUser() =>
        OperatingSystem.IsWindows()
            ? ForOwner(WindowsIdentity.GetCurrent().User?.Value ?? throw new InvalidOperationException("the process token has no user SID"))
            : throw new PlatformNotSupportedException("the current user's SID is a Windows notion; name the owner");

    /// <summary>The descriptor for <paramref name="ownerSid"/> in string form (S-R-A-S1-S2…).</summary>
    /// <exception cref="ArgumentException">Not a SID string.</exception>
    public static SecurityDescriptor ForOwner(string ownerSid)
    {
        var owner = ParseSid(ownerSid);
        var aces = new[] { ParseSid(LocalSystem), ParseSid(Administrators), owner };
        int ownerSize = SidSize(owner);
        int aclSize = AclHeaderSize + aces.Sum(a => AceHeaderSize + SidSize(a));
        int ownerOffset = HeaderSize;
        int groupOffset = ownerOffset + ownerSize;
        int daclOffset = groupOffset + ownerSize;
        var bytes = new byte[daclOffset + aclSize];
        var span = bytes.AsSpan();

        span[0] = Revision;
        BinaryPrimitives.WriteUInt16LittleEndian(span[2..], SelfRelative | DaclProtected | DaclPresent);
        BinaryPrimitives.WriteInt32LittleEndian(span[4..], ownerOffset);
        BinaryPrimitives.WriteInt32LittleEndian(span[8..], groupOffset);
        BinaryPrimitives.WriteInt32LittleEndian(span[12..], 0); // no SACL
        BinaryPrimitives.WriteInt32LittleEndian(span[16..], daclOffset);
        WriteSid(span[ownerOffset..], owner);
        WriteSid(span[groupOffset..], owner);

        var acl = span[daclOffset..];
        acl[0] = AclRevision;
        BinaryPrimitives.WriteUInt16LittleEndian(acl[2..], (ushort)aclSize);
        BinaryPrimitives.WriteUInt16LittleEndian(acl[4..], (ushort)aces.Length);
        int at = AclHeaderSize;
        foreach (var sid in aces)
        {
            int aceSize = AceHeaderSize + SidSize(sid);
            acl[at] = AccessAllowedAceType;
            acl[at + 1] = 0; // no inheritance flags
            BinaryPrimitives.WriteUInt16LittleEndian(acl[(at + 2)..], (ushort)aceSize);
            BinaryPrimitives.WriteUInt32LittleEndian(acl[(at + 4)..], FileAllAccess);
            WriteSid(acl[(at + AceHeaderSize)..], sid);
            at += aceSize;
        }

        return new SecurityDescriptor(ownerSid, bytes);
    }

    /// <summary>"S-1-5-21-1-2-3-1001" → (authority 5, sub-authorities 21,1,2,3,1001); revision 1, at most 15 sub-authorities.</summary>
    private static (long Authority, uint[] SubAuthorities) ParseSid(string sid)
    {
        string[] parts = sid.Split('-');
        if (parts.Length < 3 || parts.Length > 18 || parts[0] != "S" || parts[1] != "1"
            || !long.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out long authority) || authority >= 1L << 48)
        {
            throw new ArgumentException($"'{sid}' is not a SID", nameof(sid));
        }

        var subs = new uint[parts.Length - 3];
        for (int i = 0; i < subs.Length; i++)
        {
            if (!uint.TryParse(parts[i + 3], NumberStyles.None, CultureInfo.InvariantCulture, out subs[i]))
            {
                throw new ArgumentException($"'{sid}' is not a SID", nameof(sid));
            }
        }

        return (authority, subs);
    }

    private static int SidSize((long Authority, uint[] SubAuthorities) sid) => 8 + (4 * sid.SubAuthorities.Length);

    private static void WriteSid(Span<byte> target, (long Authority, uint[] SubAuthorities) sid)
    {
        target[0] = Revision;
        target[1] = (byte)sid.SubAuthorities.Length;
        for (int i = 0; i < 6; i++)
        {
            target[2 + i] = (byte)(sid.Authority >> (8 * (5 - i))); // 48-bit big-endian authority
        }

        for (int i = 0; i < sid.SubAuthorities.Length; i++)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(target[(8 + (4 * i))..], sid.SubAuthorities[i]);
        }
    }
}
