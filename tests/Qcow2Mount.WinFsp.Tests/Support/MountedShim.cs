using System.Runtime.InteropServices;
using Qcow2Mount.Core;
using Qcow2Mount.Core.Vfs;
using Qcow2Mount.WinFsp.Interop;

namespace Qcow2Mount.WinFsp.Tests.Support;

/// <summary>
/// Real qcow2 images behind a <see cref="WinFspHost"/> mounted on a <see cref="FakeWinFspApi"/>. The methods call the
/// callbacks through the native interface table the host handed to "WinFsp", exactly as WinFsp's dispatcher would
/// (same function pointers, same FSP_FILE_SYSTEM with the host's UserContext), and return the NTSTATUS.
/// </summary>
internal sealed unsafe class MountedShim : IDisposable
{
    public const uint ReadAccess = 0x120089;   // FILE_GENERIC_READ
    public const uint WriteAccess = 0x120116;  // FILE_GENERIC_WRITE

    private MountedShim(IReadOnlyList<string> imagePaths, bool readOnly, bool disksReadOnly, List<string> log)
    {
        Log = log;
        Api = new FakeWinFspApi(log);
        var directory = new ImageDirectory(caseSensitiveNames: false, readOnly);
        foreach (string path in imagePaths)
        {
            var disk = new RecordingDisk(DiskImage.Open(path, new ImageOpenOptions { ReadOnly = disksReadOnly }), RawNames.For(path), log);
            Disks.Add(disk);
            directory.Add(path, disk);
        }

        Host = new WinFspHost(Api, directory, Messages.Add, TestOwner.Descriptor);
        Host.Mount(null);
    }

    private MountedShim(ImageDirectory directory, List<string> log)
    {
        Log = log;
        Api = new FakeWinFspApi(log);
        Host = new WinFspHost(Api, directory, Messages.Add, TestOwner.Descriptor);
        Host.Mount(null);
    }

    public List<string> Log { get; }

    public List<string> Messages { get; } = [];

    public FakeWinFspApi Api { get; }

    public WinFspHost Host { get; }

    public List<RecordingDisk> Disks { get; } = [];

    private FileSystemInterface* Table => Api.Interface;

    private nint Fs => Api.FileSystem;

    public static MountedShim Mount(bool readOnly, params string[] imagePaths) => new(imagePaths, readOnly, readOnly, []);

    /// <summary>Serves <paramref name="directory"/> as made by <see cref="ImageDirectory.Open"/> (what the mount server does for both hosts).</summary>
    public static MountedShim Mount(ImageDirectory directory) => new(directory, []);

    /// <summary>A read-only mount of disks opened read-write: only the shim's own checks keep the images unchanged.</summary>
    public static MountedShim MountReadOnlyOverWritableDisks(params string[] imagePaths) => new(imagePaths, true, false, []);

    public int VolumeInfo(out VolumeInfo info)
    {
        VolumeInfo v = default;
        int status = Table->GetVolumeInfo(Fs, &v);
        info = v;
        return status;
    }

    /// <summary>GetSecurityByName with a descriptor buffer of <paramref name="bufferSize"/> bytes (null = no size pointer).</summary>
    public int SecurityByName(string name, out uint attributes, nuint? bufferSize, out byte[] descriptor, out nuint neededSize)
    {
        uint a = 0;
        nuint size = bufferSize ?? 0;
        var buffer = new byte[(int)size];
        int status;
        fixed (char* n = name)
        fixed (byte* b = buffer)
        {
            status = Table->GetSecurityByName(Fs, n, &a, bufferSize is null ? null : b, bufferSize is null ? null : &size);
        }

        attributes = a;
        neededSize = size;
        descriptor = buffer;
        return status;
    }

    public int Open(string name, out nint context, out FspFileInfo info, uint access = ReadAccess, uint createOptions = 0)
    {
        nint c = 0;
        FspFileInfo i = default;
        int status;
        fixed (char* n = name)
        {
            status = Table->Open(Fs, n, createOptions, access, &c, &i);
        }

        context = c;
        info = i;
        return status;
    }

    public nint OpenOrFail(string name, uint access = ReadAccess)
    {
        int status = Open(name, out nint context, out _, access);
        Assert.That(status, Is.EqualTo(NtStatus.Success), $"Open({name})");
        return context;
    }

    public int Create(string name)
    {
        nint c = 0;
        FspFileInfo i = default;
        fixed (char* n = name)
        {
            return Table->Create(Fs, n, 0, WriteAccess, 0, null, 0, &c, &i);
        }
    }

    public int Read(nint context, long offset, byte[] buffer, out uint transferred)
    {
        uint t = 0;
        int status;
        fixed (byte* b = buffer)
        {
            status = Table->Read(Fs, context, b, (ulong)offset, (uint)buffer.Length, &t);
        }

        transferred = t;
        return status;
    }

    public int Write(nint context, long offset, byte[] data, out uint transferred, out FspFileInfo info, bool writeToEndOfFile = false, bool constrainedIo = false)
    {
        uint t = 0;
        FspFileInfo i = default;
        int status;
        fixed (byte* b = data)
        {
            status = Table->Write(Fs, context, b, (ulong)offset, (uint)data.Length, writeToEndOfFile ? (byte)1 : (byte)0, constrainedIo ? (byte)1 : (byte)0, &t, &i);
        }

        transferred = t;
        info = i;
        return status;
    }

    public int Flush(nint context)
    {
        FspFileInfo i = default;
        return Table->Flush(Fs, context, &i);
    }

    public int FileInfo(nint context, out FspFileInfo info)
    {
        FspFileInfo i = default;
        int status = Table->GetFileInfo(Fs, context, &i);
        info = i;
        return status;
    }

    public int SetBasicInfo(nint context, ulong creation, ulong access, ulong write, ulong change, out FspFileInfo info)
    {
        FspFileInfo i = default;
        int status = Table->SetBasicInfo(Fs, context, WinFspConstants.InvalidFileAttributes, creation, access, write, change, &i);
        info = i;
        return status;
    }

    public int SetFileSize(nint context, ulong size, bool allocationSize = false)
    {
        FspFileInfo i = default;
        return Table->SetFileSize(Fs, context, size, allocationSize ? (byte)1 : (byte)0, &i);
    }

    public int Overwrite(nint context)
    {
        FspFileInfo i = default;
        return Table->Overwrite(Fs, context, 0, 0, 0, &i);
    }

    public int SetDelete(nint context, bool delete)
    {
        fixed (char* n = "\\disk.raw")
        {
            return Table->SetDelete(Fs, context, n, delete ? (byte)1 : (byte)0);
        }
    }

    public int CanDelete(nint context)
    {
        fixed (char* n = "\\disk.raw")
        {
            return Table->CanDelete(Fs, context, n);
        }
    }

    public int Rename(nint context, string newName)
    {
        fixed (char* n = "\\disk.raw")
        fixed (char* m = newName)
        {
            return Table->Rename(Fs, context, n, m, 0);
        }
    }

    public int GetSecurity(nint context, out byte[] descriptor)
    {
        nuint size = 1024;
        var buffer = new byte[size];
        int status;
        fixed (byte* b = buffer)
        {
            status = Table->GetSecurity(Fs, context, b, &size);
        }

        descriptor = buffer[..(int)size];
        return status;
    }

    public int SetSecurity(nint context) => Table->SetSecurity(Fs, context, 4, null);

    public int SetVolumeLabel(string label)
    {
        VolumeInfo v = default;
        fixed (char* l = label)
        {
            return Table->SetVolumeLabel(Fs, l, &v);
        }
    }

    /// <summary>ReadDirectory into a buffer of <paramref name="bufferSize"/> bytes; returns the names and whether the end marker came.</summary>
    public int ReadDirectory(nint context, string? marker, int bufferSize, out List<(string Name, FspFileInfo Info)> entries, out bool ended)
    {
        entries = [];
        ended = false;
        var buffer = new byte[bufferSize];
        uint transferred = 0;
        int status;
        fixed (char* m = marker)
        fixed (byte* b = buffer)
        {
            status = Table->ReadDirectory(Fs, context, null, marker is null ? null : m, b, (uint)bufferSize, &transferred);
            for (uint at = 0; at + sizeof(ushort) <= transferred; at = (at + 7u) & ~7u)
            {
                var entry = (DirInfo*)(b + at);
                if (entry->Size == 0)
                {
                    ended = true;
                    break;
                }

                string name = new((char*)(b + at + DirInfo.HeaderSize), 0, (entry->Size - DirInfo.HeaderSize) / sizeof(char));
                entries.Add((name, entry->FileInfo));
                at += entry->Size;
            }
        }

        return status;
    }

    public void Cleanup(nint context, uint flags)
    {
        fixed (char* n = "\\disk.raw")
        {
            Table->Cleanup(Fs, context, null, flags);
        }
    }

    public void Close(nint context) => Table->Close(Fs, context);

    /// <summary>Reads the whole file in <paramref name="chunk"/>-byte requests (the last one crossing the end).</summary>
    public byte[] ReadAll(nint context, long size, int chunk)
    {
        var result = new byte[size];
        var buffer = new byte[chunk];
        for (long offset = 0; offset < size; offset += chunk)
        {
            int status = Read(context, offset, buffer, out uint n);
            Assert.That(status, Is.EqualTo(NtStatus.Success), $"read at {offset}");
            Assert.That(n, Is.EqualTo((uint)Math.Min(chunk, size - offset)), $"bytes read at {offset}");
            buffer.AsSpan(0, (int)n).CopyTo(result.AsSpan((int)offset));
        }

        return result;
    }

    public void Dispose()
    {
        Host.Dispose();
        Api.Dispose();
    }
}
