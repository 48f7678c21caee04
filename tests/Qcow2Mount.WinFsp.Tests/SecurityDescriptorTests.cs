using System.Buffers.Binary;

namespace Qcow2Mount.WinFsp.Tests;

/// <summary>
/// The self-relative descriptor decoded field by field (the Wine test has Windows' own parser turn it back into SDDL).
/// </summary>
[Category(TestCategories.Unit)]
public sealed class SecurityDescriptorTests
{
    [Test]
    public void Bytes_Header_SelfRelativeProtectedDaclOwnerGroupNoSacl()
    {
        byte[] sd = SecurityDescriptor.Bytes.ToArray();
        Assert.Multiple(() =>
        {
            Assert.That(sd[0], Is.EqualTo(1), "revision");
            Assert.That(BinaryPrimitives.ReadUInt16LittleEndian(sd.AsSpan(2)), Is.EqualTo(0x9004), "SE_SELF_RELATIVE | SE_DACL_PROTECTED | SE_DACL_PRESENT");
            Assert.That(Sid(sd, BinaryPrimitives.ReadInt32LittleEndian(sd.AsSpan(4))), Is.EqualTo("S-1-5-32-544"), "owner");
            Assert.That(Sid(sd, BinaryPrimitives.ReadInt32LittleEndian(sd.AsSpan(8))), Is.EqualTo("S-1-5-32-544"), "group");
            Assert.That(BinaryPrimitives.ReadInt32LittleEndian(sd.AsSpan(12)), Is.Zero, "no SACL");
        });
    }

    [Test]
    public void Bytes_Dacl_FullAccessForSystemAdministratorsEveryone()
    {
        byte[] sd = SecurityDescriptor.Bytes.ToArray();
        int dacl = BinaryPrimitives.ReadInt32LittleEndian(sd.AsSpan(16));
        int aclSize = BinaryPrimitives.ReadUInt16LittleEndian(sd.AsSpan(dacl + 2));
        int count = BinaryPrimitives.ReadUInt16LittleEndian(sd.AsSpan(dacl + 4));
        var aces = new List<string>();
        int at = dacl + 8;
        for (int i = 0; i < count; i++)
        {
            int size = BinaryPrimitives.ReadUInt16LittleEndian(sd.AsSpan(at + 2));
            aces.Add($"type {sd[at]} flags {sd[at + 1]} mask 0x{BinaryPrimitives.ReadUInt32LittleEndian(sd.AsSpan(at + 4)):X} {Sid(sd, at + 8)}");
            at += size;
        }

        Assert.Multiple(() =>
        {
            Assert.That(sd[dacl], Is.EqualTo(2), "ACL revision");
            Assert.That(dacl + aclSize, Is.EqualTo(sd.Length), "the ACL ends the descriptor");
            Assert.That(at, Is.EqualTo(sd.Length), "ACE sizes add up to the ACL size");
            Assert.That(aces, Is.EqualTo(new[]
            {
                "type 0 flags 0 mask 0x1F01FF S-1-5-18",
                "type 0 flags 0 mask 0x1F01FF S-1-5-32-544",
                "type 0 flags 0 mask 0x1F01FF S-1-1-0",
            }));
        });
    }

    private static string Sid(ReadOnlySpan<byte> sd, int offset)
    {
        long authority = 0;
        for (int i = 0; i < 6; i++)
        {
            authority = (authority << 8) | sd[offset + 2 + i];
        }

        var parts = new List<string> { "S", sd[offset].ToString(System.Globalization.CultureInfo.InvariantCulture), authority.ToString(System.Globalization.CultureInfo.InvariantCulture) };
        for (int i = 0; i < sd[offset + 1]; i++)
        {
            parts.Add(BinaryPrimitives.ReadUInt32LittleEndian(sd[(offset + 8 + (4 * i))..]).ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        return string.Join('-', parts);
    }
}
