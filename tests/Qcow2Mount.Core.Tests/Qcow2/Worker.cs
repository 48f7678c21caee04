namespace Qcow2Mount.Core.Tests.Qcow2;

/// <summary>An action on a thread of its own: whether it finished, what it threw, and whether it is blocked waiting.</summary>
internal sealed class Worker
{
    private readonly Thread _thread;
    private volatile bool _finished;

    private Worker(Action action)
    {
        _thread = new Thread(() =>
        {
            try
            {
                action();
            }
            catch (Exception e)
            {
                Error = e;
            }
            finally
            {
                _finished = true;
            }
        })
        {
            IsBackground = true,
        };
    }

    public bool Finished => _finished;

    public Exception? Error { get; private set; }

    public static Worker Start(Action action)
    {
        var worker = new Worker(action);
        worker._thread.Start();
        return worker;
    }

    public bool Join(TimeSpan timeout) => _thread.Join(timeout);

    /// <summary>True once the thread blocks in a wait (a lock, a monitor, an event) before <paramref name="timeout"/>, or finished.</summary>
    public bool WaitsWithin(TimeSpan timeout)
    {
        var until = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < until)
        {
            if (_finished || (_thread.ThreadState & ThreadState.WaitSleepJoin) != 0)
            {
                return true;
            }

            Thread.Sleep(1);
        }

        return false;
    }
}
