using System.Runtime.InteropServices;
using Qcow2Mount.Fuse.Interop;
using Qcow2Mount.Fuse.Protocol;

namespace Qcow2Mount.Fuse.Uring;

/// <summary>
/// One thread of the io_uring transport: its own ring and a number of ring entries registered on one FUSE queue
/// (linux/fuse.h 7.42, Documentation/filesystems/fuse-io-uring.rst). An entry is a long-lived IORING_OP_URING_CMD on
/// /dev/fuse with two buffers, the request header and the payload; it completes when the kernel has copied a request
/// into them. We answer it in place and submit COMMIT_AND_FETCH, which hands the reply over and waits for the next
/// request: one system call per request (per batch of requests at higher queue depths) instead of a read and a write.
/// </summary>
internal sealed unsafe class FuseUringWorker
{
    // struct fuse_uring_req_header: in_out (fuse_in_header in, fuse_out_header out), op_in (the request's first
    // argument: its per-op header, e.g. fuse_read_in), ring_ent_in_out (flags, commit_id, payload_sz, reserved).
    private const int OpInOffset = 128, OpInSize = 128, EntInOutOffset = 256, HeaderSize = 288;
    private const int CommitIdOffset = EntInOutOffset + 8, PayloadSizeOffset = EntInOutOffset + 16;

    // enum fuse_uring_cmd and struct fuse_uring_cmd_req (flags, commit_id, qid) in the SQE's command area.
    private const uint CmdRegister = 1, CmdCommitAndFetch = 2;
    private const int CmdCommitIdOffset = 8, CmdQidOffset = 16;

    /// <summary>
    /// An entry's memory: the header at 0, its iovec[2] at <see cref="IovecOffset"/>, the payload at
    /// <see cref="PayloadOffset"/>. The bytes in front of the payload hold a request's headers laid out before its payload
    /// (or a reply's out header before its data), so neither is copied.
    /// </summary>
    private const int IovecOffset = HeaderSize, PayloadOffset = 4096;

    private const int InHeaderSize = 40, OutHeaderSize = 16;
    private const int EBUSY = 16, ECANCELED = 125;

    private readonly IoUring _ring;
    private readonly int _fd;
    private readonly ushort _queue;
    private readonly int _count;
    private readonly int _cpu;
    private readonly RequestAnswer _answer;
    private readonly Action<string> _log;
    private readonly byte*[] _entries;
    private long _served;

    /// <param name="cpu">The CPU to pin the thread to, or −1 to leave it to the scheduler.</param>
    /// <param name="log">Where problems go (the transport passes them on once per mount).</param>
    public FuseUringWorker(IoUring ring, int fd, ushort queue, int count, int cpu, RequestAnswer answer, Action<string> log)
    {
        _ring = ring;
        _fd = fd;
        _queue = queue;
        _count = count;
        _cpu = cpu;
        _answer = answer;
        _log = log;
        _entries = new byte*[count];
    }

    /// <summary>Requests answered so far (read without synchronisation: for reports).</summary>
    public long Served => Volatile.Read(ref _served);

    /// <summary>
    /// Registers the entries and serves them until each has ended: the connection went away (unmount: ENOTCONN), or the
    /// kernel refused the registration (then requests keep coming through /dev/fuse). Frees everything on the way out.
    /// </summary>
    public void Run()
    {
        byte* reply = null;
        bool released = true; // no entry buffer is with the kernel
        try
        {
            if (_cpu >= 0)
            {
                ulong mask = 1UL << (_cpu % 64);
                Libc.SchedSetAffinity(0, sizeof(ulong), &mask); // best effort: the thread runs anywhere if it fails
            }

            int error = _ring.Enable();
            if (error < 0)
            {
                _log($"FUSE over io_uring: cannot enable the ring (errno {-error}); requests go through /dev/fuse");
                return;
            }

            reply = (byte*)NativeMemory.AlignedAlloc(FuseRequestHandler.ReplyBufferSize, 4096);
            released = false;
            for (int i = 0; i < _count; i++)
            {
                byte* entry = (byte*)NativeMemory.AlignedAlloc(PayloadOffset + FuseRequestHandler.MaxPayload, 4096);
                _entries[i] = entry;
                var iov = (nuint*)(entry + IovecOffset);
                iov[0] = (nuint)entry;
                iov[1] = HeaderSize;
                iov[2] = (nuint)(entry + PayloadOffset);
                iov[3] = FuseRequestHandler.MaxPayload;
                Queue(i, CmdRegister, 0);
            }

            released = Serve(reply);
        }
        finally
        {
            _ring.Dispose();
            if (released)
            {
                foreach (byte* entry in _entries)
                {
                    NativeMemory.AlignedFree(entry);
                }
            }

            // Else they stay allocated: closing the ring cancels the entries the kernel still holds only later, in
            // the background, and until then it may copy a request into one.
            NativeMemory.AlignedFree(reply);
        }
    }

    /// <summary>Serves until every entry has ended (true), or io_uring_enter fails (false: the kernel may still hold entries).</summary>
    private bool Serve(byte* reply)
    {
        uint queued = (uint)_count;
        int live = _count;
        Span<byte> request = stackalloc byte[InHeaderSize + OpInSize];
        var used = new bool[_count];
        while (live > 0)
        {
            int submitted = _ring.Enter(queued, 1);
            if (submitted >= 0)
            {
                queued -= (uint)submitted;
            }
            else if (submitted is not (-Errno.EINTR or -Errno.EAGAIN or -EBUSY))
            {
                // Our entries stay with the kernel until the ring closes; the queue's other threads serve on.
                _log($"FUSE over io_uring: io_uring_enter failed (errno {-submitted})");
                return false;
            }

            while (_ring.TryTake(out var completion))
            {
                int index = (int)completion.UserData;
                if (completion.Result == 0)
                {
                    used[index] = true;
                    ulong commitId = Answer(_entries[index], request, reply);
                    Queue(index, CmdCommitAndFetch, commitId);
                    queued++;
                    continue;
                }

                live--;
                if (completion.Result is not (-Errno.ENOTCONN or -Errno.ECONNABORTED or -ECANCELED or -Errno.ENODEV))
                {
                    _log(used[index]
                        ? $"FUSE over io_uring: a ring entry of queue {_queue} ended with errno {-completion.Result}"
                        : $"FUSE over io_uring: the kernel refused the ring entries (errno {-completion.Result}); requests go through /dev/fuse");
                }
            }
        }

        return true;
    }

    /// <summary>
    /// Answers the request in <paramref name="entry"/> and leaves the reply there (out header in the header buffer, body in
    /// the payload); returns the commit id. A request without payload (READ, GETATTR, …) is assembled in
    /// <paramref name="request"/> and its reply written in place in front of and into the payload (READ data is not
    /// copied); a request with payload (WRITE) is answered in place and its short reply copied back.
    /// </summary>
    private ulong Answer(byte* entry, Span<byte> request, byte* reply)
    {
        byte* payload = entry + PayloadOffset;
        ulong commitId = *(ulong*)(entry + CommitIdOffset);
        uint payloadSize = *(uint*)(entry + PayloadSizeOffset);
        long opSize = (long)*(uint*)entry - InHeaderSize - payloadSize; // fuse_in_header.len covers all three parts
        int length;
        byte* replyStart;
        if (opSize is < 0 or > OpInSize || payloadSize > FuseRequestHandler.MaxPayload)
        {
            replyStart = reply;
            length = 0; // not a request we can lay out: answered with EIO below
        }
        else if (payloadSize == 0)
        {
            new ReadOnlySpan<byte>(entry, InHeaderSize).CopyTo(request);
            new ReadOnlySpan<byte>(entry + OpInOffset, (int)opSize).CopyTo(request[InHeaderSize..]);
            replyStart = payload - OutHeaderSize;
            length = Call(request[..(InHeaderSize + (int)opSize)], replyStart);
        }
        else
        {
            byte* start = payload - opSize - InHeaderSize;
            Buffer.MemoryCopy(entry, start, InHeaderSize, InHeaderSize);
            Buffer.MemoryCopy(entry + OpInOffset, start + InHeaderSize, opSize, opSize);
            replyStart = reply;
            length = Call(new ReadOnlySpan<byte>(start, InHeaderSize + (int)opSize + (int)payloadSize), reply);
        }

        if (length < OutHeaderSize)
        {
            // Only FORGET and INTERRUPT take no reply, and the kernel sends neither through the ring; the entry must be
            // committed all the same to get the next request.
            *(FuseOutHeader*)reply = new FuseOutHeader { Length = OutHeaderSize, Error = -Errno.EIO, Unique = ((FuseInHeader*)entry)->Unique };
            replyStart = reply;
            length = OutHeaderSize;
        }

        Buffer.MemoryCopy(replyStart, entry, OutHeaderSize, OutHeaderSize);
        if (replyStart != payload - OutHeaderSize)
        {
            Buffer.MemoryCopy(replyStart + OutHeaderSize, payload, FuseRequestHandler.MaxPayload, length - OutHeaderSize);
        }

        *(uint*)(entry + PayloadSizeOffset) = (uint)(length - OutHeaderSize);
        _served++;
        return commitId;
    }

    /// <summary>The answer's length; 0 (answered with EIO by the caller) if it threw: an entry left unanswered would hang its caller.</summary>
    private int Call(ReadOnlySpan<byte> request, byte* reply)
    {
        try
        {
            return _answer(request, new Span<byte>(reply, FuseRequestHandler.ReplyBufferSize));
        }
        catch (Exception e)
        {
            _log($"FUSE over io_uring: unexpected {e.GetType().Name}: {e.Message}");
            return 0;
        }
    }

    private void Queue(int index, uint command, ulong commitId)
    {
        byte* sqe = _ring.NextSqe();
        sqe[IoUring.SqeOpcodeOffset] = IoUring.OpUringCmd;
        *(int*)(sqe + IoUring.SqeFdOffset) = _fd;
        *(uint*)(sqe + IoUring.SqeCmdOpOffset) = command;
        if (command == CmdRegister)
        {
            *(ulong*)(sqe + IoUring.SqeAddrOffset) = (ulong)(_entries[index] + IovecOffset);
            *(uint*)(sqe + IoUring.SqeLenOffset) = 2; // iovecs: header, payload
        }

        *(ulong*)(sqe + IoUring.SqeUserDataOffset) = (ulong)index;
        *(ulong*)(sqe + IoUring.SqeCommandOffset + CmdCommitIdOffset) = commitId;
        *(ushort*)(sqe + IoUring.SqeCommandOffset + CmdQidOffset) = _queue;
    }
}
