using System.Runtime.InteropServices;
using Qcow2Mount.Fuse.Interop;

namespace Qcow2Mount.Fuse.Uring;

/// <summary>
/// One io_uring instance from the raw system calls (linux/io_uring.h; no liburing): 128-byte submission entries (what
/// IORING_OP_URING_CMD needs for its 80-byte command area), one submitter thread, task work run only while that thread
/// waits in <see cref="Enter"/>. Created disabled, so the thread that will use it can be another one than the creator:
/// it calls <see cref="Enable"/> first. Not thread-safe: one thread owns a ring.
/// </summary>
internal sealed unsafe class IoUring : IDisposable
{
    /// <summary>Submission entry size with IORING_SETUP_SQE128; the command area starts at <see cref="SqeCommandOffset"/>.</summary>
    public const int SqeSize = 128;

    // struct io_uring_sqe field offsets.
    public const int SqeOpcodeOffset = 0, SqeFdOffset = 4, SqeCmdOpOffset = 8, SqeAddrOffset = 16, SqeLenOffset = 24,
        SqeUserDataOffset = 32, SqeCommandOffset = 48;

    public const byte OpUringCmd = 46; // IORING_OP_URING_CMD

    private const uint SetupRDisabled = 1 << 6, SetupSqe128 = 1 << 10, SetupSingleIssuer = 1 << 12, SetupDeferTaskrun = 1 << 13;
    private const uint FeatSingleMmap = 1;
    private const uint EnterGetEvents = 1;
    private const nint RegisterEnableRings = 12;
    private const long OffSqRing = 0, OffCqRing = 0x8000000, OffSqes = 0x10000000;

    private readonly int _fd;
    private readonly byte* _sqRing;
    private readonly nuint _sqRingSize;
    private readonly byte* _cqRing; // == _sqRing with IORING_FEAT_SINGLE_MMAP
    private readonly nuint _cqRingSize;
    private readonly byte* _sqes;
    private readonly nuint _sqesSize;
    private readonly uint* _sqTail;
    private readonly uint* _sqArray;
    private readonly uint _sqMask;
    private readonly uint* _cqHead;
    private readonly uint* _cqTail;
    private readonly uint _cqMask;
    private readonly IoUringCqe* _cqes;
    private uint _tail;
    private bool _disposed;

    private IoUring(int fd, in IoUringParams p, byte* sqRing, nuint sqRingSize, byte* cqRing, nuint cqRingSize, byte* sqes, nuint sqesSize)
    {
        _fd = fd;
        _sqRing = sqRing;
        _sqRingSize = sqRingSize;
        _cqRing = cqRing;
        _cqRingSize = cqRingSize;
        _sqes = sqes;
        _sqesSize = sqesSize;
        _sqTail = (uint*)(sqRing + p.SqTail);
        _sqArray = (uint*)(sqRing + p.SqArray);
        _sqMask = *(uint*)(sqRing + p.SqRingMask);
        _cqHead = (uint*)(cqRing + p.CqHead);
        _cqTail = (uint*)(cqRing + p.CqTail);
        _cqMask = *(uint*)(cqRing + p.CqRingMask);
        _cqes = (IoUringCqe*)(cqRing + p.Cqes);
        _tail = *_sqTail;
        Entries = p.SqEntries;
    }

    /// <summary>Submission queue size (the requested size rounded up to a power of two); the completion queue is twice that.</summary>
    public uint Entries { get; }

    /// <summary>Creates a disabled ring with at least <paramref name="entries"/> submission entries; −errno on failure.</summary>
    public static IoUring? Create(uint entries, out int error)
    {
        var p = default(IoUringParams);
        p.Flags = SetupSqe128 | SetupSingleIssuer | SetupDeferTaskrun | SetupRDisabled;
        int fd = (int)Libc.Syscall(Libc.SYS_io_uring_setup, (nint)entries, (nint)(&p), 0, 0, 0, 0);
        if (fd < 0)
        {
            error = -Marshal.GetLastPInvokeError();
            return null;
        }

        nuint sqRingSize = p.SqArray + p.SqEntries * sizeof(uint);
        nuint cqRingSize = p.Cqes + p.CqEntries * (uint)sizeof(IoUringCqe);
        bool single = (p.Features & FeatSingleMmap) != 0;
        if (single)
        {
            sqRingSize = cqRingSize = Math.Max(sqRingSize, cqRingSize);
        }

        byte* sqRing = Map(fd, sqRingSize, OffSqRing);
        byte* cqRing = single || sqRing == null ? sqRing : Map(fd, cqRingSize, OffCqRing);
        nuint sqesSize = p.SqEntries * (nuint)SqeSize;
        byte* sqes = cqRing == null ? null : Map(fd, sqesSize, OffSqes);
        if (sqes == null)
        {
            error = -Marshal.GetLastPInvokeError();
            if (cqRing != null && cqRing != sqRing)
            {
                Libc.Munmap(cqRing, cqRingSize);
            }

            if (sqRing != null)
            {
                Libc.Munmap(sqRing, sqRingSize);
            }

            Libc.Close(fd);
            return null;
        }

        error = 0;
        return new IoUring(fd, p, sqRing, sqRingSize, cqRing, cqRingSize, sqes, sqesSize);
    }

    /// <summary>Enables the ring; the calling thread becomes its only submitter. Returns 0 or −errno.</summary>
    public int Enable() =>
        Libc.Syscall(Libc.SYS_io_uring_register, _fd, RegisterEnableRings, 0, 0, 0, 0) < 0 ? -Marshal.GetLastPInvokeError() : 0;

    /// <summary>
    /// The next submission entry, zeroed, queued for the next <see cref="Enter"/>. The caller must not queue more
    /// than <see cref="Entries"/> entries between two calls of <see cref="Enter"/>.
    /// </summary>
    public byte* NextSqe()
    {
        uint index = _tail & _sqMask;
        byte* sqe = _sqes + (index * SqeSize);
        new Span<byte>(sqe, SqeSize).Clear();
        _sqArray[index] = index;
        _tail++;
        Volatile.Write(ref *_sqTail, _tail); // release: the kernel reads the entry after it sees the tail
        return sqe;
    }

    /// <summary>
    /// Submits <paramref name="toSubmit"/> queued entries and, when <paramref name="waitFor"/> &gt; 0, waits until that
    /// many completions are there. Returns the number of entries the kernel took, or −errno (EINTR: a signal).
    /// </summary>
    public int Enter(uint toSubmit, uint waitFor)
    {
        nint result = Libc.Syscall(Libc.SYS_io_uring_enter, _fd, (nint)toSubmit, (nint)waitFor, waitFor > 0 ? (nint)EnterGetEvents : 0, 0, 0);
        return result < 0 ? -Marshal.GetLastPInvokeError() : (int)result;
    }

    /// <summary>Takes the oldest completion, if any.</summary>
    public bool TryTake(out IoUringCqe completion)
    {
        uint head = *_cqHead;
        if (head == Volatile.Read(ref *_cqTail)) // acquire: the entry is complete once the tail covers it
        {
            completion = default;
            return false;
        }

        completion = _cqes[head & _cqMask];
        Volatile.Write(ref *_cqHead, head + 1);
        return true;
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        Libc.Munmap(_sqes, _sqesSize);
        if (_cqRing != _sqRing)
        {
            Libc.Munmap(_cqRing, _cqRingSize);
        }

        Libc.Munmap(_sqRing, _sqRingSize);
        Libc.Close(_fd);
    }

    private static byte* Map(int fd, nuint size, long offset)
    {
        void* address = Libc.Mmap(null, size, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED | Libc.MAP_POPULATE, fd, offset);
        return address == (void*)-1 ? null : (byte*)address;
    }
}
