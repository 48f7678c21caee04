namespace Qcow2Mount.TestSupport;

/// <summary>Runs one body on several dedicated threads released together, and collects what they throw.</summary>
public static class ThreadGang
{
    /// <summary>
    /// Starts <paramref name="count"/> threads running <paramref name="body"/>(index), released at once by a barrier,
    /// waits for all of them and returns every exception they threw (empty when all succeeded).
    /// </summary>
    public static IReadOnlyList<Exception> Run(int count, Action<int> body)
    {
        var errors = new List<Exception>();
        using var start = new Barrier(count);
        var threads = Enumerable.Range(0, count).Select(t => new Thread(() =>
        {
            try
            {
                start.SignalAndWait();
                body(t);
            }
            catch (Exception e)
            {
                lock (errors)
                {
                    errors.Add(e);
                }
            }
        })).ToList();
        threads.ForEach(th => th.Start());
        threads.ForEach(th => th.Join());
        return errors;
    }
}
