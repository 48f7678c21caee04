using System.Globalization;
using System.Runtime.InteropServices;
using Qcow2Mount.Fuse.Interop;
using Qcow2Mount.Fuse.Protocol;

namespace Qcow2Mount.Fuse.Uring;

/// <summary>
/// FUSE over io_uring (kernel 6.14 and later, module parameter <c>fuse.enable_uring=Y</c>; linux/fuse.h 7.42,
/// Documentation/filesystems/fuse-io-uring.rst). <see cref="Negotiate"/> asks for it in the INIT reply when the kernel
/// offers it and our rings could be made; after that reply <see cref="Start"/> runs the <see cref="FuseUringWorker"/>s of every
/// FUSE queue (the kernel has one per possible CPU and queues a request on the queue of the CPU its caller runs on;
/// <see cref="FuseUringOptions"/> says how many threads and entries each gets).
/// Once every queue has an entry, the kernel sends requests through the rings instead of /dev/fuse; FORGET and
/// INTERRUPT still come through /dev/fuse, so its workers stay. Until then new requests wait in the kernel, and a
/// registration the kernel refuses switches the connection back to /dev/fuse.
/// </summary>
internal sealed class FuseUring
{
    private const uint InitExt = 1u << 30; // FUSE_INIT_EXT in flags: flags2 is valid
    private const uint OverIoUring = 1u << (41 - 32); // FUSE_OVER_IO_URING (bit 41 of the 64-bit flags) in flags2
    private const int OpcodeOffset = 4, InHeaderSize = 40, OutHeaderSize = 16, InitInFlagsOffset = 12, InitInFlags2Offset = 16;

    private readonly RequestAnswer _answer;
    private readonly Action<string> _log;
    private readonly FuseUringOptions _options;
    private IoUring[]? _rings;
    private FuseUringWorker[]? _workers;
    private int _queues;
    private int _entries;
    private int _fd = -1;
    private int _running;
    private int _reported;

    /// <param name="answer">Answers a request (the host's handler, with its shutdown rules).</param>
    public FuseUring(RequestAnswer answer, Action<string> log, FuseUringOptions options)
    {
        _answer = answer;
        _log = log;
        _options = options;
    }

    /// <summary>True from <see cref="Start"/> on: requests are (or are about to be) served through the rings.</summary>
    public bool Active => Volatile.Read(ref _workers) is not null;

    /// <summary>Requests answered through the rings so far.</summary>
    public long Served => Volatile.Read(ref _workers)?.Sum(w => w.Served) ?? 0;

    /// <summary>The kernel's module parameter: whether it offers FUSE over io_uring to new connections.</summary>
    public static bool EnabledInKernel()
    {
        try
        {
            return File.ReadAllText("/sys/module/fuse/parameters/enable_uring").Trim() == "Y";
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>
    /// Looks at an answered request: for an INIT the kernel sent with FUSE_OVER_IO_URING, makes the rings and sets the
    /// flag in <paramref name="reply"/>. Returns true when it did; <see cref="Start"/> must then follow the reply.
    /// </summary>
    public unsafe bool Negotiate(ReadOnlySpan<byte> request, Span<byte> reply, int fuseFd)
    {
        if (_rings is not null || request.Length < InHeaderSize + InitInFlags2Offset + sizeof(uint)
            || reply.Length < OutHeaderSize + sizeof(FuseInitOut) || MemoryMarshal.Read<FuseOpcode>(request[OpcodeOffset..]) != FuseOpcode.Init)
        {
            return false;
        }

        uint kernelFlags = MemoryMarshal.Read<uint>(request[(InHeaderSize + InitInFlagsOffset)..]);
        uint kernelFlags2 = MemoryMarshal.Read<uint>(request[(InHeaderSize + InitInFlags2Offset)..]);
        var header = MemoryMarshal.Read<FuseOutHeader>(reply);
        var init = MemoryMarshal.Read<FuseInitOut>(reply[OutHeaderSize..]);
        if ((kernelFlags & InitExt) == 0 || (kernelFlags2 & OverIoUring) == 0 || header.Error != 0
            || header.Length < OutHeaderSize + sizeof(FuseInitOut) || (init.Flags & InitExt) == 0)
        {
            return false;
        }

        _queues = PossibleCpus();
        (int threads, _entries) = _options.Layout(_queues);
        var rings = new IoUring[_queues * threads];
        for (int i = 0; i < rings.Length; i++)
        {
            var ring = IoUring.Create((uint)_entries, out int error);
            if (ring is null)
            {
                _log($"FUSE over io_uring: io_uring_setup failed (errno {-error}); requests go through /dev/fuse");
                foreach (var made in rings.AsSpan(0, i))
                {
                    made.Dispose();
                }

                return false;
            }

            rings[i] = ring;
        }

        // A descriptor of our own: the host closes its one when its last /dev/fuse worker leaves, and a later commit
        // must never reach whatever file reused that number.
        _fd = Libc.Fcntl(fuseFd, Libc.F_DUPFD_CLOEXEC, 3); // close-on-exec, as every descriptor of ours
        if (_fd < 0)
        {
            _log($"FUSE over io_uring: cannot duplicate the /dev/fuse descriptor (errno {Marshal.GetLastPInvokeError()}); requests go through /dev/fuse");
            foreach (var ring in rings)
            {
                ring.Dispose();
            }

            return false;
        }

        _rings = rings;
        init.Flags2 |= OverIoUring;
        MemoryMarshal.Write(reply[OutHeaderSize..], in init);
        return true;
    }

    /// <summary>Starts the workers (queue by queue); call once the INIT reply that <see cref="Negotiate"/> changed has been written.</summary>
    public void Start()
    {
        var rings = _rings ?? throw new InvalidOperationException("FUSE over io_uring was not negotiated");
        var workers = new FuseUringWorker[rings.Length];
        for (int i = 0; i < rings.Length; i++)
        {
            int queue = i % _queues; // every queue gets its first entry early: the kernel starts using the rings only then
            workers[i] = new FuseUringWorker(rings[i], _fd, (ushort)queue, _entries, _options.PinQueues ? queue : -1, _answer, ReportOnce);
        }

        _running = workers.Length;
        Volatile.Write(ref _workers, workers);
        foreach (var worker in workers)
        {
            new Thread(() => Run(worker)) { IsBackground = true, Name = "fuse-uring" }.Start();
        }
    }

    /// <summary>The workers' problems, the first one only: when the kernel refuses the rings, every worker sees it.</summary>
    private void ReportOnce(string message)
    {
        if (Interlocked.Exchange(ref _reported, 1) == 0)
        {
            _log(message);
        }
    }

    private void Run(FuseUringWorker worker)
    {
        try
        {
            worker.Run();
        }
        catch (Exception e)
        {
            ReportOnce($"FUSE over io_uring: worker failed: {e.GetType().Name}: {e.Message}");
        }
        finally
        {
            if (Interlocked.Decrement(ref _running) == 0)
            {
                Libc.Close(_fd);
            }
        }
    }

    /// <summary>num_possible_cpus(), the kernel's number of FUSE queues: /sys/devices/system/cpu/possible ("0-3", "0,2-5").</summary>
    private static int PossibleCpus()
    {
        try
        {
            int count = 0;
            foreach (string range in File.ReadAllText("/sys/devices/system/cpu/possible").Trim().Split(','))
            {
                string[] ends = range.Split('-');
                int first = int.Parse(ends[0], CultureInfo.InvariantCulture);
                int last = ends.Length > 1 ? int.Parse(ends[1], CultureInfo.InvariantCulture) : first;
                count += last - first + 1;
            }

            return Math.Max(count, 1);
        }
        catch (Exception e) when (e is IOException or FormatException or UnauthorizedAccessException)
        {
            return Environment.ProcessorCount;
        }
    }
}
