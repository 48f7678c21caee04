using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Qcow2Mount.Core.Vfs;
using Qcow2Mount.WinFsp.Interop;

namespace Qcow2Mount.WinFsp;

/// <summary>
/// The native ends of the interface table: each callback finds its <see cref="WinFspFileSystem"/> through the GCHandle
/// in FSP_FILE_SYSTEM.UserContext, turns pointers into strings and spans, and calls it. No exception leaves a
/// callback: every one is turned into an NTSTATUS by <see cref="NtStatusMap"/> (or logged, for the void callbacks).
/// </summary>
internal static unsafe class WinFspCallbacks
{
    /// <summary>A zeroed 64-slot table in native memory with every callback the shim implements; free it with <see cref="NativeMemory.Free"/>.</summary>
    public static FileSystemInterface* CreateTable()
    {
        var table = (FileSystemInterface*)NativeMemory.AllocZeroed((nuint)sizeof(FileSystemInterface));
        table->GetVolumeInfo = &GetVolumeInfo;
        table->SetVolumeLabel = &SetVolumeLabel;
        table->GetSecurityByName = &GetSecurityByName;
        table->Create = &Create;
        table->Open = &Open;
        table->Overwrite = &Overwrite;
        table->Cleanup = &Cleanup;
        table->Close = &Close;
        table->Read = &Read;
        table->Write = &Write;
        table->Flush = &Flush;
        table->GetFileInfo = &GetFileInfo;
        table->SetBasicInfo = &SetBasicInfo;
        table->SetFileSize = &SetFileSize;
        table->CanDelete = &CanDelete;
        table->Rename = &Rename;
        table->GetSecurity = &GetSecurity;
        table->SetSecurity = &SetSecurity;
        table->ReadDirectory = &ReadDirectory;
        table->SetDelete = &SetDelete;
        table->DispatcherStopped = &DispatcherStopped;
        return table;
    }

    /// <summary>The file system a callback is for: the GCHandle the host stored in UserContext.</summary>
    internal static WinFspFileSystem Target(nint fileSystem)
    {
        nint handle = ((FileSystemHeader*)fileSystem)->UserContext;
        return handle == 0 ? throw new InvalidOperationException("FSP_FILE_SYSTEM has no UserContext")
            : (WinFspFileSystem)GCHandle.FromIntPtr(handle).Target!;
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int GetVolumeInfo(nint fs, VolumeInfo* volumeInfo)
    {
        WinFspFileSystem? target = null;
        try
        {
            target = Target(fs);
            int status = target.GetVolumeInfo(out var info);
            *volumeInfo = info;
            return status;
        }
        catch (Exception e)
        {
            return Fail(target, e, "volume info", 0, 0);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int SetVolumeLabel(nint fs, char* label, VolumeInfo* volumeInfo)
    {
        WinFspFileSystem? target = null;
        try
        {
            target = Target(fs);
            return target.SetVolumeLabel();
        }
        catch (Exception e)
        {
            return Fail(target, e, "set volume label", 0, 0);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int GetSecurityByName(nint fs, char* name, uint* attributes, void* descriptor, nuint* descriptorSize)
    {
        WinFspFileSystem? target = null;
        try
        {
            target = Target(fs);
            int status = target.GetSecurityByName(new string(name), out uint found);
            if (status != NtStatus.Success)
            {
                return status;
            }

            if (attributes is not null)
            {
                *attributes = found;
            }

            return target.CopySecurity(descriptor, descriptorSize);
        }
        catch (Exception e)
        {
            return Fail(target, e, "security lookup", 0, 0);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int Create(nint fs, char* name, uint createOptions, uint grantedAccess, uint fileAttributes, void* descriptor, ulong allocationSize, nint* context, FspFileInfo* fileInfo)
    {
        WinFspFileSystem? target = null;
        try
        {
            target = Target(fs);
            return target.Create(new string(name));
        }
        catch (Exception e)
        {
            return Fail(target, e, "create", 0, 0);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int Open(nint fs, char* name, uint createOptions, uint grantedAccess, nint* context, FspFileInfo* fileInfo)
    {
        WinFspFileSystem? target = null;
        try
        {
            target = Target(fs);
            int status = target.Open(new string(name), createOptions, grantedAccess, out nint opened, out var info);
            if (status == NtStatus.Success)
            {
                *context = opened;
                *fileInfo = info;
            }

            return status;
        }
        catch (Exception e)
        {
            return Fail(target, e, "open", 0, 0);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int Overwrite(nint fs, nint context, uint fileAttributes, byte replaceAttributes, ulong allocationSize, FspFileInfo* fileInfo)
    {
        WinFspFileSystem? target = null;
        try
        {
            target = Target(fs);
            return Complete(target.Overwrite(context, out var info), info, fileInfo);
        }
        catch (Exception e)
        {
            return Fail(target, e, "overwrite", context, 0);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void Cleanup(nint fs, nint context, char* name, uint flags)
    {
        WinFspFileSystem? target = null;
        try
        {
            target = Target(fs);
            target.Cleanup(context, flags);
        }
        catch (Exception e)
        {
            _ = Fail(target, e, "cleanup", context, 0);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void Close(nint fs, nint context)
    {
        WinFspFileSystem? target = null;
        try
        {
            target = Target(fs);
            target.Close(context);
        }
        catch (Exception e)
        {
            _ = Fail(target, e, "close", context, 0);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int Read(nint fs, nint context, void* buffer, ulong offset, uint length, uint* transferred)
    {
        WinFspFileSystem? target = null;
        try
        {
            target = Target(fs);
            int status = target.Read(context, new Span<byte>(buffer, checked((int)length)), offset, out uint count);
            *transferred = count;
            return status;
        }
        catch (Exception e)
        {
            return Fail(target, e, "read", context, (long)offset);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int Write(nint fs, nint context, void* buffer, ulong offset, uint length, byte writeToEndOfFile, byte constrainedIo, uint* transferred, FspFileInfo* fileInfo)
    {
        WinFspFileSystem? target = null;
        try
        {
            target = Target(fs);
            var data = new ReadOnlySpan<byte>(buffer, checked((int)length));
            int status = target.Write(context, data, offset, writeToEndOfFile != 0, constrainedIo != 0, out uint count, out var info);
            *transferred = count;
            return Complete(status, info, fileInfo);
        }
        catch (Exception e)
        {
            return Fail(target, e, "write", context, (long)offset);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int Flush(nint fs, nint context, FspFileInfo* fileInfo)
    {
        WinFspFileSystem? target = null;
        try
        {
            target = Target(fs);
            return Complete(target.Flush(context, out var info), info, fileInfo);
        }
        catch (Exception e)
        {
            return Fail(target, e, "flush", context, 0);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int GetFileInfo(nint fs, nint context, FspFileInfo* fileInfo)
    {
        WinFspFileSystem? target = null;
        try
        {
            target = Target(fs);
            return Complete(target.GetFileInfo(context, out var info), info, fileInfo);
        }
        catch (Exception e)
        {
            return Fail(target, e, "file info", context, 0);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int SetBasicInfo(nint fs, nint context, uint fileAttributes, ulong creationTime, ulong lastAccessTime, ulong lastWriteTime, ulong changeTime, FspFileInfo* fileInfo)
    {
        WinFspFileSystem? target = null;
        try
        {
            target = Target(fs);
            int status = target.SetBasicInfo(context, creationTime, lastAccessTime, lastWriteTime, changeTime, out var info);
            return Complete(status, info, fileInfo);
        }
        catch (Exception e)
        {
            return Fail(target, e, "set times", context, 0);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int SetFileSize(nint fs, nint context, ulong newSize, byte setAllocationSize, FspFileInfo* fileInfo)
    {
        WinFspFileSystem? target = null;
        try
        {
            target = Target(fs);
            return Complete(target.SetFileSize(context, newSize, setAllocationSize != 0, out var info), info, fileInfo);
        }
        catch (Exception e)
        {
            return Fail(target, e, "set size", context, 0);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int CanDelete(nint fs, nint context, char* name)
    {
        WinFspFileSystem? target = null;
        try
        {
            target = Target(fs);
            return target.SetDelete(context, deleteFile: true);
        }
        catch (Exception e)
        {
            return Fail(target, e, "delete", context, 0);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int Rename(nint fs, nint context, char* name, char* newName, byte replaceIfExists)
    {
        WinFspFileSystem? target = null;
        try
        {
            target = Target(fs);
            return target.RefuseChange(context, ChangeKind.Rename);
        }
        catch (Exception e)
        {
            return Fail(target, e, "rename", context, 0);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int GetSecurity(nint fs, nint context, void* descriptor, nuint* descriptorSize)
    {
        WinFspFileSystem? target = null;
        try
        {
            target = Target(fs);
            int status = target.GetSecurity(context);
            return status != NtStatus.Success ? status : target.CopySecurity(descriptor, descriptorSize);
        }
        catch (Exception e)
        {
            return Fail(target, e, "get security", context, 0);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int SetSecurity(nint fs, nint context, uint securityInformation, void* modification)
    {
        WinFspFileSystem? target = null;
        try
        {
            target = Target(fs);
            return target.RefuseChange(context, ChangeKind.Attributes);
        }
        catch (Exception e)
        {
            return Fail(target, e, "set security", context, 0);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int ReadDirectory(nint fs, nint context, char* pattern, char* marker, void* buffer, uint length, uint* transferred)
    {
        WinFspFileSystem? target = null;
        try
        {
            target = Target(fs);
            string? after = marker is null ? null : new string(marker);
            int status = target.ReadDirectory(context, after, (nint)buffer, length, out uint count);
            *transferred = count;
            return status;
        }
        catch (Exception e)
        {
            return Fail(target, e, "read directory", context, 0);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int SetDelete(nint fs, nint context, char* name, byte deleteFile)
    {
        WinFspFileSystem? target = null;
        try
        {
            target = Target(fs);
            return target.SetDelete(context, deleteFile != 0);
        }
        catch (Exception e)
        {
            return Fail(target, e, "delete", context, 0);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void DispatcherStopped(nint fs, byte normally)
    {
        WinFspFileSystem? target = null;
        try
        {
            target = Target(fs);
            target.DispatcherStopped(normally != 0);
        }
        catch (Exception e)
        {
            _ = Fail(target, e, "dispatcher stopped", 0, 0);
        }
    }

    /// <summary>Copies <paramref name="info"/> out on success (FILE_INFO pointers are never NULL for these calls, but checked).</summary>
    private static int Complete(int status, in FspFileInfo info, FspFileInfo* fileInfo)
    {
        if (status == NtStatus.Success && fileInfo is not null)
        {
            *fileInfo = info;
        }

        return status;
    }

    /// <summary>The one exception barrier: maps through <see cref="NtStatusMap"/>, logging with the file and offset; never throws.</summary>
    private static int Fail(WinFspFileSystem? target, Exception error, string operation, nint context, long offset)
    {
        if (target is null)
        {
            return NtStatusMap.Classify(error);
        }

        try
        {
            return NtStatusMap.ToNtStatus(error, operation, target.NameOf(context), offset, target.Log);
        }
        catch (Exception)
        {
            return NtStatusMap.Classify(error);
        }
    }
}
