using System.Runtime.InteropServices;

namespace Qcow2Mount.WinFsp.Interop;

/// <summary>FSP_FSCTL_VOLUME_PARAMS, version 1: 504 bytes, <see cref="Version"/> = 504 (winfsp-notes §4).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct VolumeParams
{
    public const int Size = 504;
    public const int PrefixChars = 192;
    public const int FileSystemNameChars = 16;

    public ushort Version;
    public ushort SectorSize;
    public ushort SectorsPerAllocationUnit;
    public ushort MaxComponentLength;
    public ulong VolumeCreationTime;
    public uint VolumeSerialNumber;
    public uint TransactTimeout;
    public uint IrpTimeout;
    public uint IrpCapacity;
    public uint FileInfoTimeout;
    public VolumeFlags Flags;
    public fixed char Prefix[PrefixChars];
    public fixed char FileSystemName[FileSystemNameChars];

    /// <summary>Version 1 fields: bits 0..4 say which of the five timeouts below are valid.</summary>
    public uint TimeoutValidFlags;
    public uint VolumeInfoTimeout;
    public uint DirInfoTimeout;
    public uint SecurityTimeout;
    public uint StreamInfoTimeout;
    public uint EaTimeout;
    public uint FsextControlCode;
    public uint Reserved32;
    public ulong Reserved64A;
    public ulong Reserved64B;

    /// <summary>Copies <paramref name="name"/> (at most 15 characters, NUL-terminated) into <see cref="FileSystemName"/>.</summary>
    public void SetFileSystemName(string name)
    {
        if (name.Length >= FileSystemNameChars)
        {
            throw new ArgumentException($"file system name '{name}' is longer than {FileSystemNameChars - 1} characters", nameof(name));
        }

        fixed (char* p = FileSystemName)
        {
            var target = new Span<char>(p, FileSystemNameChars);
            target.Clear();
            name.AsSpan().CopyTo(target);
        }
    }
}
