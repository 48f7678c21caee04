using System.Runtime.InteropServices;
using System.Text;
using Qcow2Mount.Fuse.Interop;

namespace Qcow2Mount.Fuse;

/// <summary>
/// One mounted libfuse file system over an <see cref="ImageFileSystem"/> (high-level API, multi-threaded loop).
/// Life cycle (fuse-notes §6): <see cref="Mount"/> = fuse_new + fuse_mount; <see cref="Run"/> = fuse_loop_mt, which returns
/// after an external unmount or <see cref="RequestStop"/>; <see cref="Dispose"/> = fuse_unmount + fuse_destroy.
/// The host does not own the file system's disks: the caller flushes and disposes them after <see cref="Dispose"/>.
/// </summary>
internal sealed unsafe class FuseHost : IDisposable
{
    private readonly object _gate = new();
    private readonly FuseMountSettings _settings;
    private readonly Action<FuseHost>? _onInitialized;
    private GCHandle _self;
    private nint _fuse;
    private bool _stopRequested;

    private FuseHost(ImageFileSystem fileSystem, FuseMountSettings settings, Action<FuseHost>? onInitialized)
    {
        FileSystem = fileSystem;
        _settings = settings;
        _onInitialized = onInitialized;
        OwnerUid = Libc.GetEUid();
        OwnerGid = Libc.GetEGid();
    }

    public ImageFileSystem FileSystem { get; }

    /// <summary>Owner reported for every node (the serving user), checked by the kernel under default_permissions.</summary>
    public uint OwnerUid { get; }

    public uint OwnerGid { get; }

    /// <summary>
    /// Creates and mounts the file system. <paramref name="onInitialized"/> runs on a libfuse thread once the kernel's
    /// INIT has been answered, i.e. when the mount serves requests (the readiness signal of a background mount).
    /// </summary>
    public static FuseHost Mount(ImageFileSystem fileSystem, FuseMountSettings settings, Action<FuseHost>? onInitialized = null)
    {
        Libfuse.Load(settings.LibraryPath);
        var host = new FuseHost(fileSystem, settings, onInitialized);
        host._self = GCHandle.Alloc(host);
        try
        {
            host.Create();
            if (Libfuse.FuseMount(host._fuse, settings.MountPoint) != 0)
            {
                throw new FuseMountException($"{settings.MountPoint}: fuse_mount failed (see the message above)");
            }

            return host;
        }
        catch
        {
            host.Destroy();
            throw;
        }
    }

    /// <summary>Serves requests until unmounted; returns 0 after an unmount or a stop request, else libfuse's error.</summary>
    public int Run()
    {
        nint config = Libfuse.FuseLoopCfgCreate();
        try
        {
            Libfuse.FuseLoopCfgSetMaxThreads(config, _settings.MaxThreads);
            int result = Libfuse.FuseLoopMt(_fuse, config);
            return Volatile.Read(ref _stopRequested) ? 0 : result;
        }
        finally
        {
            Libfuse.FuseLoopCfgDestroy(config);
        }
    }

    /// <summary>
    /// Ends <see cref="Run"/> from another thread (a signal handler): fuse_exit only sets a flag, so the mount is also
    /// detached lazily, which makes the kernel end the connection and the loop return (fuse-notes §6, §9).
    /// </summary>
    public void RequestStop()
    {
        lock (_gate)
        {
            if (_fuse == 0 || _stopRequested)
            {
                return;
            }

            _stopRequested = true;
            Libfuse.FuseExit(_fuse);
        }

        string? error = Unmounter.Unmount(_settings.MountPoint, lazy: true);
        if (error is not null)
        {
            FileSystem.Log(error);
        }
    }

    public void Dispose() => Destroy();

    /// <summary>Called from init, after the connection is negotiated (max_write keeps libfuse's default: 1 MiB with max_pages, fuse-notes §7).</summary>
    internal void OnInitialized() => _onInitialized?.Invoke(this);

    private void Create()
    {
        string[] argv = ["qcow2mount", "-o", OptionString()];
        var pointers = new nint[argv.Length];
        try
        {
            for (int i = 0; i < argv.Length; i++)
            {
                pointers[i] = Marshal.StringToCoTaskMemUTF8(argv[i]);
            }

            fixed (nint* argvPointer = pointers)
            {
                var args = new FuseArgs { Argc = argv.Length, Argv = (byte**)argvPointer, Allocated = 0 };
                var operations = FuseCallbacks.Table();
                _fuse = Libfuse.FuseNew(&args, &operations, FuseOperations.Size, GCHandle.ToIntPtr(_self));
                Libfuse.FuseOptFreeArgs(&args);
            }
        }
        finally
        {
            foreach (nint p in pointers)
            {
                Marshal.FreeCoTaskMem(p);
            }
        }

        if (_fuse == 0)
        {
            throw new FuseMountException($"libfuse rejected the mount options '{argv[2]}'");
        }
    }

    /// <summary>fsname and subtype make /proc/mounts read "IMAGE MOUNTPOINT fuse.qcow2mount"; default_permissions lets the kernel check modes.</summary>
    private string OptionString()
    {
        var options = new List<string>
        {
            _settings.ReadOnly ? "ro" : "rw",
            "fsname=" + Escape(_settings.FsName),
            "subtype=qcow2mount",
            "default_permissions",
        };
        options.AddRange(_settings.Options);
        return string.Join(',', options);
    }

    /// <summary>fuse_opt splits at commas; a backslash escapes the next character.</summary>
    private static string Escape(string value)
    {
        var sb = new StringBuilder(value.Length);
        foreach (char c in value)
        {
            if (c is ',' or '\\')
            {
                sb.Append('\\');
            }

            sb.Append(c);
        }

        return sb.ToString();
    }

    private void Destroy()
    {
        lock (_gate)
        {
            if (_fuse != 0)
            {
                Libfuse.FuseUnmount(_fuse);
                Libfuse.FuseDestroy(_fuse);
                _fuse = 0;
            }

            if (_self.IsAllocated)
            {
                _self.Free();
            }
        }
    }
}
