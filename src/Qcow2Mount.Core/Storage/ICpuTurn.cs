namespace Qcow2Mount.Core.Storage;

/// <summary>
/// A server thread's turn on the CPU, which it gives up before the storage layer blocks it on the disk, so another
/// thread can serve meanwhile. A server that runs more threads than cores (to keep many reads waiting on the disk at
/// once) lets only as many of them as there are cores hold a turn: the rest wait for one instead of taking slices of
/// the cores from the threads that are serving, which is what stretched the slowest requests (p99.9 at QD16 several
/// times QEMU's with ten threads on two cores, below it with two).
/// </summary>
public interface ICpuTurn
{
    /// <summary>Whether the thread holds its turn now (after <see cref="GiveUp"/> it does not, until it takes one again).</summary>
    bool Holding { get; }

    /// <summary>Hands the turn to a waiting thread: the caller is about to wait for the disk. Does nothing without a turn.</summary>
    void GiveUp();
}
