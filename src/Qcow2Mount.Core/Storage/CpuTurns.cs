namespace Qcow2Mount.Core.Storage;

/// <summary>The <see cref="ICpuTurn"/> of the current thread, if its server gave it one; read by the storage layer before it blocks.</summary>
public static class CpuTurns
{
    [ThreadStatic]
    private static ICpuTurn? t_current;

    /// <summary>The current thread's turn (null on threads without one: they never give anything up).</summary>
    public static ICpuTurn? Current
    {
        get => t_current;
        set => t_current = value;
    }

    /// <summary>The current thread is about to block on the disk: its turn, if it holds one, goes to a waiting thread.</summary>
    public static void BeforeBlocking() => t_current?.GiveUp();
}
