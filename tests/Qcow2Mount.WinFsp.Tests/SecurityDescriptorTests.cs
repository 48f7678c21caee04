using System.Buffers.Binary;
using Qcow2Mount.WinFsp.Tests.Support;

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
        byte[] sd = TestOwner.Descriptor.Bytes.ToArray();
        Assert.Multiple(() =>
        {
            Assert.That(sd[0], Is.EqualTo(1), "revision");
            Assert.That(BinaryPrimitives.ReadUInt16LittleEndian(sd.AsSpan(2)), Is.EqualTo(0x9004), "SE_SELF_RELATIVE | SE_DACL_PROTECTED | SE_DACL_PRESENT");
            Assert.That(Sid(sd, BinaryPrimitives.ReadInt32LittleEndian(sd.AsSpan(4))), Is.EqualTo(TestOwner.Sid), "owner");
            Assert.That(Sid(sd, BinaryPrimitives.ReadInt32LittleEndian(sd.AsSpan(8))), Is.EqualTo(TestOwner.Sid), "group");
            Assert.That(BinaryPrimitives.ReadInt32LittleEndian(sd.AsSpan(12)), Is.Zero, "no SACL");
        });
    }

    [Test]
    public void Bytes_Dacl_FullAccessForSystemAdministratorsAndTheOwnerOnly()
    {
        byte[] sd = TestOwner.Descriptor.Bytes.ToArray();
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
                "type 0 flags 0 mask 0x1F01FF " + TestOwner.Sid,
            }));
        });
    }

    /// <summary>The exact bytes for a short owner SID, worked out by hand from the layout (header, owner, group, DACL of three ACEs).</summary>
    [Test]
    public void ForOwner_ShortSid_ExactBytes()
    {
        byte[] expected =
        [
            1, 0, 0x04, 0x90, 20, 0, 0, 0, 36, 0, 0, 0, 0, 0, 0, 0, 52, 0, 0, 0,   // header: owner@20 group@36 no SACL DACL@52
            1, 2, 0, 0, 0, 0, 0, 5, 21, 0, 0, 0, 233, 3, 0, 0,                       // owner S-1-5-21-1001
            1, 2, 0, 0, 0, 0, 0, 5, 21, 0, 0, 0, 233, 3, 0, 0,                       // group, the same
            2, 0, 76, 0, 3, 0, 0, 0,                                                 // ACL: revision 2, 76 bytes (8 + 20 + 24 + 24), 3 ACEs
            0, 0, 20, 0, 0xFF, 0x01, 0x1F, 0, 1, 1, 0, 0, 0, 0, 0, 5, 18, 0, 0, 0,  // allow FA S-1-5-18
            0, 0, 24, 0, 0xFF, 0x01, 0x1F, 0, 1, 2, 0, 0, 0, 0, 0, 5, 32, 0, 0, 0, 0x20, 0x02, 0, 0, // allow FA S-1-5-32-544
            0, 0, 24, 0, 0xFF, 0x01, 0x1F, 0, 1, 2, 0, 0, 0, 0, 0, 5, 21, 0, 0, 0, 233, 3, 0, 0,     // allow FA S-1-5-21-1001
        ];
        var descriptor = SecurityDescriptor.ForOwner("S-1-5-21-1001");
        Assert.Multiple(() =>
        {
            Assert.That(descriptor.Bytes.ToArray(), Is.EqualTo(expected));
            Assert.That(descriptor.Sddl, Is.EqualTo("O:S-1-5-21-1001G:S-1-5-21-1001D:P(A;;FA;;;SY)(A;;FA;;;BA)(A;;FA;;;S-1-5-21-1001)"));
        });
    }

    [TestCase("")]
    [TestCase("S-1")]
    [TestCase("S-2-5-21")]
    [TestCase("X-1-5-21")]
    [TestCase("S-1-5-21-x")]
    [TestCase("S-1-281474976710656-1")]
    [TestCase("S-1-5-1-2-3-4-5-6-7-8-9-10-11-12-13-14-15-16")]
    public void ForOwner_NotASid_ArgumentException(string text) =>
        Assert.That(() => SecurityDescriptor.ForOwner(text), Throws.ArgumentException);

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
