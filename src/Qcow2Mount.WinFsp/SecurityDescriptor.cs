using System.Buffers.Binary;

namespace Qcow2Mount.WinFsp;

/// <summary>
/// The self-relative security descriptor every node of the volume reports, built byte by byte from the documented
/// layout (SECURITY_DESCRIPTOR_RELATIVE, SID, ACL, ACCESS_ALLOWED_ACE; all little-endian except a SID's 48-bit
/// authority) so it needs no Windows API. In SDDL: <c>O:BAG:BAD:P(A;;FA;;;SY)(A;;FA;;;BA)(A;;FA;;;WD)</c>, owner
/// and group Administrators, a protected DACL giving SYSTEM, Administrators and Everyone full access. Access
/// is decided by the kernel from it; read-only mounts are enforced by the callbacks (STATUS_MEDIA_WRITE_PROTECTED).
/// </summary>
internal static class SecurityDescriptor
{
    public const string Sddl = "O:BAG:BAD:P(A;;FA;;;SY)(A;;FA;;;BA)(A;;FA;;;WD)";

    /// <summary>FILE_ALL_ACCESS (SDDL "FA").</summary>
    public const uint FileAllAccess = 0x001F01FF;

    private const byte Revision = 1;
    private const byte AclRevision = 2;
    private const byte AccessAllowedAceType = 0;
    private const ushort SelfRelative = 0x8000;
    private const ushort DaclProtected = 0x1000;
    private const ushort DaclPresent = 0x0004;
    private const int HeaderSize = 20;
    private const int AclHeaderSize = 8;
    private const int AceHeaderSize = 8;

    /// <summary>S-1-5-18 (SY), S-1-5-32-544 (BA), S-1-1-0 (WD): (identifier authority, sub-authorities).</summary>
    private static readonly (long Authority, uint[] SubAuthorities) LocalSystem = (5, [18]);
    private static readonly (long Authority, uint[] SubAuthorities) Administrators = (5, [32, 544]);
    private static readonly (long Authority, uint[] SubAuthorities) Everyone = (1, [0]);

    /// <summary>The descriptor's bytes (one shared copy: callers only read it).</summary>
    public static ReadOnlySpan<byte> Bytes => Cached;

    private static readonly byte[] Cached = Build();

    private static byte[] Build()
    {
        var aces = new[] { LocalSystem, Administrators, Everyone };
        int ownerSize = SidSize(Administrators);
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
        WriteSid(span[ownerOffset..], Administrators);
        WriteSid(span[groupOffset..], Administrators);

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

        return bytes;
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
