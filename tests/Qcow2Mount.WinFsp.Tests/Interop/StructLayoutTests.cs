using System.Runtime.InteropServices;
using Qcow2Mount.WinFsp.Interop;

namespace Qcow2Mount.WinFsp.Tests.Interop;

/// <summary>
/// The binding's structures against the sizes and offsets of WinFsp's headers (fsctl.h, winfsp.h; winfsp-notes §3–5)
/// on 64-bit. A field in the wrong place would hand WinFsp garbage without any error, so every field is checked.
/// </summary>
[Category(TestCategories.Unit)]
public sealed unsafe class StructLayoutTests
{
    private static IEnumerable<TestCaseData> VolumeParamsFields()
    {
        yield return Field(nameof(VolumeParams.Version), 0);
        yield return Field(nameof(VolumeParams.SectorSize), 2);
        yield return Field(nameof(VolumeParams.SectorsPerAllocationUnit), 4);
        yield return Field(nameof(VolumeParams.MaxComponentLength), 6);
        yield return Field(nameof(VolumeParams.VolumeCreationTime), 8);
        yield return Field(nameof(VolumeParams.VolumeSerialNumber), 16);
        yield return Field(nameof(VolumeParams.TransactTimeout), 20);
        yield return Field(nameof(VolumeParams.IrpTimeout), 24);
        yield return Field(nameof(VolumeParams.IrpCapacity), 28);
        yield return Field(nameof(VolumeParams.FileInfoTimeout), 32);
        yield return Field(nameof(VolumeParams.Flags), 36);
        yield return Field(nameof(VolumeParams.Prefix), 40);
        yield return Field(nameof(VolumeParams.FileSystemName), 424);
        yield return Field(nameof(VolumeParams.TimeoutValidFlags), 456);
        yield return Field(nameof(VolumeParams.VolumeInfoTimeout), 460);
        yield return Field(nameof(VolumeParams.DirInfoTimeout), 464);
        yield return Field(nameof(VolumeParams.SecurityTimeout), 468);
        yield return Field(nameof(VolumeParams.StreamInfoTimeout), 472);
        yield return Field(nameof(VolumeParams.EaTimeout), 476);
        yield return Field(nameof(VolumeParams.FsextControlCode), 480);
        yield return Field(nameof(VolumeParams.Reserved32), 484);
        yield return Field(nameof(VolumeParams.Reserved64A), 488);
        yield return Field(nameof(VolumeParams.Reserved64B), 496);
    }

    private static IEnumerable<TestCaseData> FileInfoFields()
    {
        yield return Field(nameof(FspFileInfo.FileAttributes), 0);
        yield return Field(nameof(FspFileInfo.ReparseTag), 4);
        yield return Field(nameof(FspFileInfo.AllocationSize), 8);
        yield return Field(nameof(FspFileInfo.FileSize), 16);
        yield return Field(nameof(FspFileInfo.CreationTime), 24);
        yield return Field(nameof(FspFileInfo.LastAccessTime), 32);
        yield return Field(nameof(FspFileInfo.LastWriteTime), 40);
        yield return Field(nameof(FspFileInfo.ChangeTime), 48);
        yield return Field(nameof(FspFileInfo.IndexNumber), 56);
        yield return Field(nameof(FspFileInfo.HardLinks), 64);
        yield return Field(nameof(FspFileInfo.EaSize), 68);
    }

    /// <summary>Slot index of every callback the shim fills (and of the reserved tail), from winfsp.h's interface order.</summary>
    private static IEnumerable<TestCaseData> InterfaceSlots()
    {
        string[] order =
        [
            "GetVolumeInfo", "SetVolumeLabel", "GetSecurityByName", "Create", "Open", "Overwrite", "Cleanup", "Close",
            "Read", "Write", "Flush", "GetFileInfo", "SetBasicInfo", "SetFileSize", "CanDelete", "Rename",
            "GetSecurity", "SetSecurity", "ReadDirectory", "ResolveReparsePoints", "GetReparsePoint", "SetReparsePoint",
            "DeleteReparsePoint", "GetStreamInfo", "GetDirInfoByName", "Control", "SetDelete", "CreateEx", "OverwriteEx",
            "GetEa", "SetEa", "Obsolete0", "DispatcherStopped", "Reserved",
        ];
        for (int slot = 0; slot < order.Length; slot++)
        {
            yield return new TestCaseData(order[slot], slot).SetName($"InterfaceSlot_{order[slot]}_IsSlot{slot}");
        }
    }

    [Test]
    public void Sizes_MatchWinFspHeaders()
    {
        Assert.Multiple(() =>
        {
            Assert.That(sizeof(VolumeParams), Is.EqualTo(504), "FSP_FSCTL_VOLUME_PARAMS (V1)");
            Assert.That(sizeof(VolumeParams), Is.EqualTo(VolumeParams.Size), "the Version value");
            Assert.That(sizeof(VolumeInfo), Is.EqualTo(88), "FSP_FSCTL_VOLUME_INFO");
            Assert.That(sizeof(FspFileInfo), Is.EqualTo(72), "FSP_FSCTL_FILE_INFO");
            Assert.That(sizeof(DirInfo), Is.EqualTo(104), "FSP_FSCTL_DIR_INFO header");
            Assert.That(sizeof(FileSystemInterface), Is.EqualTo(64 * 8), "FSP_FILE_SYSTEM_INTERFACE: 64 pointers");
            Assert.That(FileSystemInterface.SlotCount * sizeof(nint), Is.EqualTo(sizeof(FileSystemInterface)));
        });
    }

    [TestCaseSource(nameof(VolumeParamsFields))]
    public void VolumeParams_FieldOffset_MatchesFsctlH(string field, int offset) =>
        Assert.That((int)Marshal.OffsetOf<VolumeParams>(field), Is.EqualTo(offset));

    [TestCaseSource(nameof(FileInfoFields))]
    public void FileInfo_FieldOffset_MatchesFsctlH(string field, int offset) =>
        Assert.That((int)Marshal.OffsetOf<FspFileInfo>(field), Is.EqualTo(offset));

    [Test]
    public void VolumeInfo_FieldOffsets_MatchFsctlH()
    {
        Assert.Multiple(() =>
        {
            Assert.That((int)Marshal.OffsetOf<VolumeInfo>(nameof(VolumeInfo.TotalSize)), Is.Zero);
            Assert.That((int)Marshal.OffsetOf<VolumeInfo>(nameof(VolumeInfo.FreeSize)), Is.EqualTo(8));
            Assert.That((int)Marshal.OffsetOf<VolumeInfo>(nameof(VolumeInfo.VolumeLabelLength)), Is.EqualTo(16));
            Assert.That((int)Marshal.OffsetOf<VolumeInfo>(nameof(VolumeInfo.VolumeLabel)), Is.EqualTo(18));
        });
    }

    [Test]
    public void DirInfo_FieldOffsets_MatchFsctlH()
    {
        Assert.Multiple(() =>
        {
            Assert.That((int)Marshal.OffsetOf<DirInfo>(nameof(DirInfo.Size)), Is.Zero);
            Assert.That((int)Marshal.OffsetOf<DirInfo>(nameof(DirInfo.FileInfo)), Is.EqualTo(8));
            Assert.That((int)Marshal.OffsetOf<DirInfo>(nameof(DirInfo.Padding)), Is.EqualTo(80), "NextOffset/Padding union");
            Assert.That(sizeof(DirInfo), Is.EqualTo(DirInfo.HeaderSize), "FileNameBuf starts right after the header");
        });
    }

    [Test]
    public void FileSystemHeader_UserContext_AtPointerSize()
    {
        Assert.Multiple(() =>
        {
            Assert.That((int)Marshal.OffsetOf<FileSystemHeader>(nameof(FileSystemHeader.Version)), Is.Zero);
            Assert.That((int)Marshal.OffsetOf<FileSystemHeader>(nameof(FileSystemHeader.UserContext)), Is.EqualTo(sizeof(nint)));
            Assert.That(sizeof(FileSystemHeader), Is.LessThanOrEqualTo(FileSystemHeader.Size64));
        });
    }

    [TestCaseSource(nameof(InterfaceSlots))]
    public void InterfaceSlot_Field_IsAtWinFspSlot(string field, int slot)
    {
        var table = default(FileSystemInterface);
        int offset = SlotOffset(ref table, field);
        Assert.That(offset, Is.EqualTo(slot * sizeof(nint)));
    }

    [Test]
    public void VolumeFlags_Bits_MatchFsctlHBitFieldOrder()
    {
        Assert.Multiple(() =>
        {
            Assert.That((uint)VolumeFlags.CaseSensitiveSearch, Is.EqualTo(1u << 0));
            Assert.That((uint)VolumeFlags.CasePreservedNames, Is.EqualTo(1u << 1));
            Assert.That((uint)VolumeFlags.UnicodeOnDisk, Is.EqualTo(1u << 2));
            Assert.That((uint)VolumeFlags.PersistentAcls, Is.EqualTo(1u << 3));
            Assert.That((uint)VolumeFlags.ReadOnlyVolume, Is.EqualTo(1u << 9));
            Assert.That((uint)VolumeFlags.PostCleanupWhenModifiedOnly, Is.EqualTo(1u << 10));
            Assert.That((uint)VolumeFlags.PassQueryDirectoryFileName, Is.EqualTo(1u << 13));
            Assert.That((uint)VolumeFlags.UmFileContextIsUserContext2, Is.EqualTo(1u << 16));
            Assert.That((uint)VolumeFlags.UmFileContextIsFullContext, Is.EqualTo(1u << 17));
        });
    }

    /// <summary>
    /// The byte offset of a slot, measured on an instance (Marshal.OffsetOf does not accept function-pointer fields).
    /// Every slot the shim names is listed, so a field moved or missing in the struct fails here.
    /// </summary>
    private static int SlotOffset(ref FileSystemInterface t, string field)
    {
        fixed (FileSystemInterface* p = &t)
        {
            byte* b = (byte*)p;
            return field switch
            {
                "GetVolumeInfo" => (int)((byte*)&p->GetVolumeInfo - b),
                "SetVolumeLabel" => (int)((byte*)&p->SetVolumeLabel - b),
                "GetSecurityByName" => (int)((byte*)&p->GetSecurityByName - b),
                "Create" => (int)((byte*)&p->Create - b),
                "Open" => (int)((byte*)&p->Open - b),
                "Overwrite" => (int)((byte*)&p->Overwrite - b),
                "Cleanup" => (int)((byte*)&p->Cleanup - b),
                "Close" => (int)((byte*)&p->Close - b),
                "Read" => (int)((byte*)&p->Read - b),
                "Write" => (int)((byte*)&p->Write - b),
                "Flush" => (int)((byte*)&p->Flush - b),
                "GetFileInfo" => (int)((byte*)&p->GetFileInfo - b),
                "SetBasicInfo" => (int)((byte*)&p->SetBasicInfo - b),
                "SetFileSize" => (int)((byte*)&p->SetFileSize - b),
                "CanDelete" => (int)((byte*)&p->CanDelete - b),
                "Rename" => (int)((byte*)&p->Rename - b),
                "GetSecurity" => (int)((byte*)&p->GetSecurity - b),
                "SetSecurity" => (int)((byte*)&p->SetSecurity - b),
                "ReadDirectory" => (int)((byte*)&p->ReadDirectory - b),
                "ResolveReparsePoints" => (int)((byte*)&p->ResolveReparsePoints - b),
                "GetReparsePoint" => (int)((byte*)&p->GetReparsePoint - b),
                "SetReparsePoint" => (int)((byte*)&p->SetReparsePoint - b),
                "DeleteReparsePoint" => (int)((byte*)&p->DeleteReparsePoint - b),
                "GetStreamInfo" => (int)((byte*)&p->GetStreamInfo - b),
                "GetDirInfoByName" => (int)((byte*)&p->GetDirInfoByName - b),
                "Control" => (int)((byte*)&p->Control - b),
                "SetDelete" => (int)((byte*)&p->SetDelete - b),
                "CreateEx" => (int)((byte*)&p->CreateEx - b),
                "OverwriteEx" => (int)((byte*)&p->OverwriteEx - b),
                "GetEa" => (int)((byte*)&p->GetEa - b),
                "SetEa" => (int)((byte*)&p->SetEa - b),
                "Obsolete0" => (int)((byte*)&p->Obsolete0 - b),
                "DispatcherStopped" => (int)((byte*)&p->DispatcherStopped - b),
                "Reserved" => (int)((byte*)&p->Reserved - b),
                _ => throw new ArgumentException($"unknown slot {field}", nameof(field)),
            };
        }
    }

    private static TestCaseData Field(string name, int offset) => new TestCaseData(name, offset).SetArgDisplayNames(name, offset.ToString(System.Globalization.CultureInfo.InvariantCulture));
}
