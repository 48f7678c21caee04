namespace Qcow2Mount.WinFsp.Interop;

/// <summary>
/// The 32 one-bit fields of FSP_FSCTL_VOLUME_PARAMS at offset 36, LSB first as MSVC lays out bit fields (winfsp-notes §4).
/// Only the bits this shim sets are named.
/// </summary>
[Flags]
internal enum VolumeFlags : uint
{
    None = 0,
    CaseSensitiveSearch = 1u << 0,
    CasePreservedNames = 1u << 1,
    UnicodeOnDisk = 1u << 2,
    PersistentAcls = 1u << 3,
    ReadOnlyVolume = 1u << 9,
    PostCleanupWhenModifiedOnly = 1u << 10,
    PassQueryDirectoryFileName = 1u << 13,
    UmFileContextIsUserContext2 = 1u << 16,
    UmFileContextIsFullContext = 1u << 17,
}
