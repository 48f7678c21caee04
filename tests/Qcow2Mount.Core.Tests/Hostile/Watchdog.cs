using System.Runtime.ExceptionServices;

namespace Qcow2Mount.Core.Tests.Hostile;

/// <summary>
/// Runs a hostile-input step on its own thread so that a hang fails the test instead of the run (NUnit's
/// [Timeout] does not abort threads on .NET, and [CancelAfter] only cancels code that asks), and reports the
/// managed bytes the step allocated so tests can bound memory.
/// </summary>
internal static class Watchdog
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(20);

    /// <summary>Runs <paramref name="step"/>; rethrows what it throws; returns the managed bytes it allocated.</summary>
    public static long Run(Action step, TimeSpan? timeout = null)
    {
        ExceptionDispatchInfo? error = null;
        long allocated = 0;
        var thread = new Thread(
            () =>
            {
                long before = GC.GetAllocatedBytesForCurrentThread();
                try
                {
                    step();
                }
                catch (Exception e)
                {
                    error = ExceptionDispatchInfo.Capture(e);
                }
                finally
                {
                    allocated = GC.GetAllocatedBytesForCurrentThread() - before;
                }
            })
        {
            IsBackground = true,
            Name = "hostile-input step",
        };
        thread.Start();
        var limit = timeout ?? DefaultTimeout;
        if (!thread.Join(limit))
        {
            Assert.Fail($"the step did not finish within {limit.TotalSeconds} s (a hang or an unbounded loop)");
        }

        error?.Throw();
        return allocated;
    }
}
