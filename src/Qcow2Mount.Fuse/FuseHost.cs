using System.Runtime.InteropServices;
using System.Text;
using Qcow2Mount.Core.Hosting;
using Qcow2Mount.Core.Storage;
using Qcow2Mount.Core.Vfs;
using Qcow2Mount.Fuse.Hosting;
using Qcow2Mount.Fuse.Interop;
using Qcow2Mount.Fuse.Uring;

namespace Qcow2Mount.Fuse;

/// <summary>
/// One mounted FUSE file system over an <see cref="FuseFileSystem"/>. libfuse mounts and unmounts (options,
/// fusermount3); the requests are served by our own loop: <see cref="FuseMountSettings.MaxThreads"/> workers each read
/// one request from /dev/fuse, answer it through <see cref="FuseRequestHandler"/> and write the reply, with no lock
/// between them (libfuse's loop takes its mutexes several times per request: waits of milliseconds when a holder was
/// preempted, the QD16 p99 tail of reads). When the kernel offers FUSE over io_uring, requests come through
/// <see cref="FuseUring"/>'s rings instead, and the workers answer what still comes through /dev/fuse (FORGET, INTERRUPT).
/// Life cycle: <see cref="Mount"/>; <see cref="Run"/> until the kernel ends the connection (an unmount, or the last
/// open file of a detached mount closed) or <see cref="Stop"/>; <see cref="Dispose"/>.
/// One unmount path: <see cref="Unmounter"/>, called once — by <see cref="Detach"/>, or by <see cref="Dispose"/> for a
/// mount that is still attached (never after the kernel ended the connection, never through libfuse's unmount).
/// Every descriptor is close-on-exec, so children (fusermount3) never hold /dev/fuse.
/// The host does not own the file system's disks: the caller flushes and disposes them after <see cref="Run"/>.
/// As an <see cref="IMount"/>: Serve is <see cref="Run"/>, Release is <see cref="Detach"/>.
/// </summary>
internal sealed unsafe class FuseHost : IMount
{
    /// <summary>A worker's request buffer rounded up to whole pages, so that its reply buffer starts on a page.</summary>
    private const int RequestBufferSpan = (FuseRequestHandler.RequestBufferSize + 4095) & ~4095;

    /// <summary>One worker's part of <see cref="_buffers"/>: its request buffer, then its reply buffer.</summary>
    private const int WorkerBufferSize = RequestBufferSpan + ((FuseRequestHandler.ReplyBufferSize + 4095) & ~4095);

    private readonly object _gate = new();
    private readonly FuseMountSettings _settings;
    private readonly FuseRequestHandler _handler;
    private readonly Action<FuseHost>? _onInitialized;
    /// <summary>Set when serving ends; never disposed, since a worker still blocked in read(2) sets it on its way out.</summary>
    private readonly ManualResetEventSlim _finished = new();
    /// <summary>Set once INIT is answered (or serving ended first): <see cref="Run"/> then starts the other workers.</summary>
    private readonly ManualResetEventSlim _initializedOrFinished = new();
    /// <summary>The io_uring transport, offered in the INIT reply when the kernel offers it; null: /dev/fuse only.</summary>
    private readonly FuseUring? _uring;
    /// <summary>The workers' CPU turns when there are more of them than cores; made by <see cref="Run"/>.</summary>
    private WorkerTurns? _turns;
    private nint _session;
    /// <summary>The ID of our mount (<see cref="MountTable.MountIdOf"/>), to know it is still ours at the mount point; null: the kernel does not say.</summary>
    private ulong? _mountId;
    private int _fd = -1;
    private int _workersLeft;
    /// <summary>
    /// Every worker's request and reply buffers, in one mapping made by <see cref="Run"/> and unmapped by the last worker
    /// out: twenty frees of a megabyte each, every one an munmap with its TLB shootdown, stood between an unmount and
    /// the process's exit. Pages are touched only as requests fill them; MAP_NORESERVE, so that the 2 GiB of 1024
    /// workers is not refused on a machine with less memory than that (each worker's own 2 MiB never was).
    /// </summary>
    private byte* _buffers;
    private nuint _buffersLength;
    private int _busy;
    private int _closed;
    private int _error;
    /// <summary>Set by <see cref="Finish"/>: a read or write on /dev/fuse failed for good (the kernel ended the connection).</summary>
    private int _ended;
    private int _initialized;
    private bool _mounted;
    /// <summary>Unmounted by us (lazily), or the kernel ended the connection: nobody may unmount this mount point again.</summary>
    private bool _detached;
    private bool _stopRequested;

    private FuseHost(FuseFileSystem fileSystem, FuseMountSettings settings, NodeOwner owner, Action<FuseHost>? onInitialized)
    {
        FileSystem = fileSystem;
        _settings = settings;
        _handler = new FuseRequestHandler(fileSystem, owner);
        _onInitialized = onInitialized;
        _uring = settings.IoUring is { } options ? new FuseUring(Answer, fileSystem.Log, options) : null;
    }

    public FuseFileSystem FileSystem { get; }

    public string MountPoint => _settings.MountPoint;

    IVirtualFileSystem IMount.FileSystem => FileSystem.Vfs;

    bool IMount.IsServing => Connected;

    /// <summary>The io_uring transport when one was offered (<see cref="FuseMountSettings.IoUring"/>); active once the kernel took it.</summary>
    public FuseUring? Uring => _uring;

    /// <summary>
    /// True while the kernel's connection lives: the mount, or the open files of a detached one, can still send
    /// requests. Right after <see cref="Detach"/> it says whether anything still holds the mount (a detach of an unused
    /// mount ends the connection before the unmount call returns).
    /// </summary>
    public bool Connected
    {
        get
        {
            lock (_gate)
            {
                if (_session == 0 || _finished.IsSet)
                {
                    return false;
                }

                var poll = new PollFd { Fd = Libfuse.FuseSessionFd(_session) };
                return Libc.Poll(&poll, 1, 0) >= 0 && (poll.Revents & Libc.POLLERR) == 0;
            }
        }
    }

    /// <summary>
    /// Creates the session and mounts it. <paramref name="onInitialized"/> runs on a worker thread once the kernel's
    /// INIT has been answered, i.e. when the mount serves requests (the readiness signal of a background mount); it
    /// cannot fail the INIT reply: if it throws, the error is logged and the mount stops with an error.
    /// </summary>
    public static FuseHost Mount(FuseFileSystem fileSystem, FuseMountSettings settings, Action<FuseHost>? onInitialized = null)
    {
        Libfuse.Load(settings.LibraryPath);
        var owner = NodeOwner.FromOptions(settings.Options, Libc.GetEUid(), Libc.GetEGid(), out var mountOptions);
        var host = new FuseHost(fileSystem, settings, owner, onInitialized);
        try
        {
            host.Create(mountOptions);
            if (Libfuse.FuseSessionMount(host._session, settings.MountPoint) != 0)
            {
                throw new FuseMountException($"{settings.MountPoint}: fuse_session_mount failed (see the message above)");
            }

            host._mounted = true;
            host._mountId = MountTable.MountIdOf(settings.MountPoint);
            int sessionFd = Libfuse.FuseSessionFd(host._session);

            // libfuse's own descriptor, received from fusermount3 for a user, may lack close-on-exec.
            _ = Libc.Fcntl(sessionFd, Libc.F_SETFD, Libc.FD_CLOEXEC);

            // The workers read a descriptor of their own: one still blocked in read(2) when the session closes its
            // descriptor can then never read from a reused descriptor number. dup(2) would drop close-on-exec.
            host._fd = Libc.Fcntl(sessionFd, Libc.F_DUPFD_CLOEXEC, 3);
            if (host._fd < 0)
            {
                throw new FuseMountException($"{settings.MountPoint}: cannot duplicate the /dev/fuse descriptor (errno {Marshal.GetLastPInvokeError()})");
            }

            return host;
        }
        catch
        {
            host.Destroy();
            throw;
        }
    }

    /// <summary>
    /// Serves requests until the kernel ends the connection (unmount) or <see cref="RequestStop"/>; returns 0 then,
    /// else −errno of a failed read or write on /dev/fuse. When it returns no request is being answered, and any
    /// request still arriving (a lazily unmounted, busy mount) gets ENOTCONN.
    /// </summary>
    public int Run()
    {
        int count = (int)Math.Clamp(_settings.MaxThreads, 1u, 1024u);
        _buffersLength = (nuint)count * WorkerBufferSize;
        _buffers = (byte*)Libc.Mmap(null, _buffersLength, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_PRIVATE | Libc.MAP_ANONYMOUS | Libc.MAP_NORESERVE, -1, 0);
        if (_buffers == (byte*)-1)
        {
            _buffers = null;
            throw new FuseMountException($"{_settings.MountPoint}: no memory for {count} workers' buffers (errno {Marshal.GetLastPInvokeError()})");
        }

        _workersLeft = count;
        _turns = WorkerTurns.For(count, (int)Math.Max(1u, _settings.Cores));

        // One worker answers INIT alone, and the others start after it: Thread.Start waits, yielding, until the new
        // thread runs, and ten of those in a row stood between the mount and its readiness (1.8 ms of CPU per mount in
        // perf, on two cores). An INIT that never completes does not keep them waiting for more than a second. A worker
        // not started once serving has ended gives up its place, so the last one out still closes the descriptor.
        StartWorker(0);
        _initializedOrFinished.Wait(TimeSpan.FromSeconds(1));
        for (int i = 1; i < count; i++)
        {
            if (_finished.IsSet)
            {
                LeaveWorkers();
            }
            else
            {
                StartWorker(i);
            }
        }

        _finished.Wait();
        Interlocked.Exchange(ref _closed, 1);
        var spin = default(SpinWait);
        while (Volatile.Read(ref _busy) != 0)
        {
            spin.SpinOnce();
        }

        return Volatile.Read(ref _error);
    }

    /// <summary>
    /// Detaches the mount lazily (the first stop signal): the mount point is free at once, files that are open (a loop
    /// device over the raw file counts) keep being served, and the kernel ends the connection — so <see cref="Run"/>
    /// returns 0 — when the last of them is closed. A detach that fails is logged and becomes a <see cref="Stop"/>.
    /// </summary>
    public void Detach()
    {
        lock (_gate)
        {
            if (_session == 0 || _detached)
            {
                return;
            }

            _detached = true;
        }

        // Someone else may have unmounted it a moment ago (then the connection is ending and there is nothing to do),
        // and mounted something else there, even another mount of ours, which is not ours to unmount.
        bool stillOurs = _mountId is { } id
            ? MountTable.MountIdOf(_settings.MountPoint) == id
            : MountTable.Find(_settings.MountPoint)?.Type == MountTable.OurType;
        if (!stillOurs)
        {
            return;
        }

        string? error = Unmounter.Unmount(_settings.MountPoint, lazy: true);
        if (error is not null)
        {
            FileSystem.Log(error);
            Stop();
        }
    }

    /// <summary>
    /// Ends <see cref="Run"/> now (a second stop signal), after detaching the mount if that has not happened: requests
    /// still arriving on open files get ENOTCONN, and the caller flushes the disks.
    /// </summary>
    public void Stop()
    {
        Detach();
        lock (_gate)
        {
            if (_session == 0 || _stopRequested)
            {
                return;
            }

            _stopRequested = true;
        }

        SetFinished();
        _turns?.OpenAll(); // the connection may live on (open files): every worker answers what arrives, without a turn
    }

    public void Dispose() => Destroy();

    void IMount.Serve()
    {
        int result = Run();
        if (result != 0)
        {
            throw new MountFailedException($"{MountPoint}: serving the mount failed ({Marshal.GetPInvokeErrorMessage(-result)})");
        }
    }

    void IMount.Release() => Detach();

    /// <summary>
    /// One worker: read a request, answer it, until the connection ends (<see cref="ConnectionEnded"/>). The last worker
    /// out closes the shared descriptor, so the kernel sees the server gone only when nobody can answer any more.
    /// </summary>
    private void Work(int index)
    {
        byte* request = _buffers + ((nuint)index * WorkerBufferSize);
        byte* reply = request + RequestBufferSpan;
        var turn = _turns?.NewTurn();
        CpuTurns.Current = turn;
        try
        {
            while (true)
            {
                turn?.Take();
                if (Volatile.Read(ref _ended) != 0)
                {
                    return; // the connection ended while this worker waited for its turn: a read would only fail
                }

                nint length = Libc.Read(_fd, request, FuseRequestHandler.RequestBufferSize);
                if (length < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno is Errno.EINTR or Errno.EAGAIN or Errno.ENOENT)
                    {
                        continue; // a signal, or a request the kernel took back (interrupted before we read it)
                    }

                    Finish(ConnectionEnded(errno) ? 0 : -errno);
                    return;
                }

                Interlocked.Increment(ref _busy);
                try
                {
                    var requestBytes = new ReadOnlySpan<byte>(request, (int)length);
                    var replyBytes = new Span<byte>(reply, FuseRequestHandler.ReplyBufferSize);
                    // After Run returned the disks are being closed: every request fails with ENOTCONN.
                    int replyLength = Volatile.Read(ref _closed) != 0
                        ? FuseRequestHandler.ReplyError(requestBytes, replyBytes, -Errno.ENOTCONN)
                        : _handler.Handle(requestBytes, replyBytes);
                    bool startUring = replyLength > 0 && _uring is not null && _uring.Negotiate(requestBytes, replyBytes[..replyLength], _fd);
                    if (replyLength > 0 && Libc.Write(_fd, reply, (nuint)replyLength) < 0)
                    {
                        int errno = Marshal.GetLastPInvokeError();
                        if (ConnectionEnded(errno))
                        {
                            Finish(0);
                            return;
                        }

                        // ENOENT: the request was interrupted and is gone; anything else is our bug, logged once per reply.
                        if (errno != Errno.ENOENT)
                        {
                            FileSystem.Log($"reply to /dev/fuse failed (errno {errno})");
                        }
                    }
                    else
                    {
                        if (startUring)
                        {
                            _uring!.Start(); // after the INIT reply: the kernel takes registrations only once it is initialised
                        }

                        if (Volatile.Read(ref _initialized) == 0 && FuseRequestHandler.CompletesInit(requestBytes, replyBytes)
                            && Interlocked.Exchange(ref _initialized, 1) == 0)
                        {
                            ReportInitialized();
                            _initializedOrFinished.Set();
                        }
                    }
                }
                finally
                {
                    Interlocked.Decrement(ref _busy);
                }
            }
        }
        finally
        {
            // After the connection ended a turn handed on would only wake a parked worker to leave (see SetFinished).
            if (Volatile.Read(ref _ended) == 0)
            {
                turn?.GiveUp();
            }

            CpuTurns.Current = null;
            LeaveWorkers();
        }
    }

    /// <summary>
    /// The errno of a read or write on /dev/fuse that means the kernel ended the connection (an unmount, the last open
    /// file of a detached mount closed, an abort): ENODEV, or ECONNABORTED for a read that took a request just as the
    /// connection was shut down (fuse_dev_do_read; a SIGHUP stop of a mount with a file held open ended with "serving
    /// the mount failed (Software caused connection abort)" and exit code 2 now and then).
    /// </summary>
    internal static bool ConnectionEnded(int errno) => errno is Errno.ENODEV or Errno.ECONNABORTED;

    private void StartWorker(int index) => new Thread(() => Work(index)) { IsBackground = true, Name = $"fuse-{index}" }.Start();

    /// <summary>A worker is done (or will never start); the last one closes the shared descriptor.</summary>
    private void LeaveWorkers()
    {
        if (Interlocked.Decrement(ref _workersLeft) == 0)
        {
            Libc.Close(_fd);
            _ = Libc.Munmap(_buffers, _buffersLength);
            _buffers = null;
        }
    }

    /// <summary>Answers a request that came through <see cref="_uring"/>, with the rules of <see cref="Work"/>.</summary>
    private int Answer(ReadOnlySpan<byte> request, Span<byte> reply)
    {
        Interlocked.Increment(ref _busy);
        try
        {
            return Volatile.Read(ref _closed) != 0
                ? FuseRequestHandler.ReplyError(request, reply, -Errno.ENOTCONN)
                : _handler.Handle(request, reply);
        }
        finally
        {
            Interlocked.Decrement(ref _busy);
        }
    }

    /// <summary>
    /// Serving ends. Workers waiting for a turn stay parked: after <see cref="Stop"/> it lets them go on, and when the
    /// connection ended (<see cref="Finish"/>) <see cref="Dispose"/> does — waking them only to leave put eight thread
    /// exits on two cores ahead of the flush, the unmount still under way on the signal's thread and the process's exit
    /// (a SIGTERM stop took 1.67 ms instead of 1.48, medians of 50; benchmarks/README).
    /// </summary>
    private void SetFinished()
    {
        _finished.Set();
        _initializedOrFinished.Set();
    }

    /// <summary>Serving ends: 0 when the kernel ended the connection (then the mount is gone: nothing to unmount), else −errno.</summary>
    private void Finish(int error)
    {
        Volatile.Write(ref _ended, 1);
        if (error != 0)
        {
            Interlocked.CompareExchange(ref _error, error, 0);
        }
        else
        {
            lock (_gate)
            {
                _detached = true;
            }
        }

        SetFinished();
    }

    /// <summary>Runs the readiness callback after the INIT reply is written; nothing it does can fail that reply.</summary>
    private void ReportInitialized()
    {
        if (_onInitialized is null)
        {
            return;
        }

        try
        {
            _onInitialized(this);
        }
        catch (Exception e)
        {
            // Nobody was told the mount is up: take it down again rather than leave it unannounced.
            FileSystem.Log($"{_settings.MountPoint}: reporting the mount ready failed: {e.Message}");
            Interlocked.CompareExchange(ref _error, -Errno.EIO, 0);
            Stop();
        }
    }

    private void Create(List<string> mountOptions)
    {
        string[] argv = ["qcow2mount", "-o", OptionString(mountOptions)];
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
                nint noOperations = 0; // every request is answered by our loop, never by libfuse
                _session = Libfuse.FuseSessionNew(&args, &noOperations, (nuint)sizeof(nint), 0);
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

        if (_session == 0)
        {
            throw new FuseMountException($"libfuse rejected the mount options '{argv[2]}'");
        }
    }

    /// <summary>fsname and subtype make /proc/mounts read "IMAGE MOUNTPOINT fuse.qcow2mount"; default_permissions lets the kernel check modes.</summary>
    private string OptionString(List<string> mountOptions)
    {
        var options = new List<string>
        {
            _settings.ReadOnly ? "ro" : "rw",
            "fsname=" + Escape(_settings.FsName),
            "subtype=qcow2mount",
            "default_permissions",
        };
        options.AddRange(mountOptions);
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

    /// <summary>
    /// Unmounts a mount that is still attached (it failed before or while serving), then frees the session. libfuse's
    /// fuse_session_unmount is never called: after a detach or the end of the connection it would unmount a second time
    /// ("failed to unmount …: Invalid argument").
    /// </summary>
    private void Destroy()
    {
        bool unmount;
        lock (_gate)
        {
            unmount = _session != 0 && _mounted && !_detached;
            _detached = true;
        }

        if (unmount && Unmounter.Unmount(_settings.MountPoint, lazy: true) is { } error)
        {
            FileSystem.Log(error);
        }

        lock (_gate)
        {
            if (_session != 0)
            {
                Libfuse.FuseSessionDestroy(_session);
                _session = 0;
            }

            // Before Run the workers do not exist and the descriptor is ours to close.
            if (_fd >= 0 && Volatile.Read(ref _workersLeft) == 0 && !_finished.IsSet)
            {
                Libc.Close(_fd);
                _fd = -1;
            }
        }

        _turns?.OpenAll(); // workers parked when the connection ended leave; the last one closes the descriptor
    }
}
