using Qcow2Mount.Core.Qcow2.Format;

namespace Qcow2Mount.Core.Tests.Qcow2.Format;

/// <summary>Snapshot table serialisation (spec §10): what we write parses back field for field, unknown extra data kept.</summary>
[TestFixture]
[Category(TestCategories.Unit)]
public sealed class SnapshotTableSerializeTests
{
    [Test]
    public void SerializeTable_ThenParse_SameEntriesUnknownExtraDataKeptLastEntryUnpadded()
    {
        var entries = new List<SnapshotTableEntry>
        {
            new() { L1TableOffset = 0x50000, L1Size = 3, Id = "1", Name = "a", DateSeconds = 1, DateNanoseconds = 2000, VmClockNanoseconds = 5, VmStateSize32 = 0, ExtraData = Enumerable.Range(1, 24).Select(i => (byte)i).ToArray() },
            new() { L1TableOffset = 0x70000, L1Size = 1, Id = "12", Name = "snäp with spaces", ExtraData = Enumerable.Range(1, 37).Select(i => (byte)(i * 3)).ToArray() },
            new() { L1TableOffset = 0, L1Size = 0, Id = "13", Name = "", ExtraData = new byte[16] },
        };

        byte[] table = SnapshotTableEntry.SerializeTable(entries);
        var parsed = SnapshotTableEntry.ParseTable(table, (uint)entries.Count, "t");

        int expectedLength = entries[0].EncodedLength + entries[1].EncodedLength + entries[2].UnpaddedLength;
        Assert.Multiple(() =>
        {
            Assert.That(table, Has.Length.EqualTo(expectedLength));
            Assert.That(parsed, Has.Count.EqualTo(3));
            for (int i = 0; i < entries.Count; i++)
            {
                Assert.That(parsed[i] with { ExtraData = [] }, Is.EqualTo(entries[i] with { ExtraData = [] }));
                Assert.That(parsed[i].ExtraData, Is.EqualTo(entries[i].ExtraData));
            }
        });
    }

    [Test]
    public void SerializeTable_NoEntries_Empty() =>
        Assert.That(SnapshotTableEntry.SerializeTable([]), Is.Empty);
}
