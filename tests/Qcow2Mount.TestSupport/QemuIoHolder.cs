namespace Qcow2Mount.TestSupport;

/// <summary>
/// A running <c>qemu-io</c> that keeps an image open (and so holds QEMU's locks on it, writer locks unless read-only)
/// until disposed: the real "another process uses this image" for lock tests. It reads its commands from stdin; the
/// constructor returns once qemu-io has opened the image and answered a read.
/// </summary>
public sealed class QemuIoHolder : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private readonly BackgroundProcess _process;

    /// <param name="format">qcow2 or raw (given explicitly, so qemu-io does not probe).</param>
    /// <param name="readOnly">qemu-io -r: reader locks instead of writer locks.</param>
    public QemuIoHolder(string image, string format, bool readOnly = false)
    {
        _process = BackgroundProcess.Start("qemu-io", ["-f", format, .. readOnly ? (string[])["-r"] : [], image]);
        try
        {
            _process.WriteLine("read 0 512");
            _process.WaitUntil(() => Output.Contains("read 512/512 bytes", StringComparison.Ordinal), $"an answer to a read of {image}", Timeout);
        }
        catch
        {
            _process.Dispose();
            throw;
        }
    }

    /// <summary>Everything qemu-io printed so far.</summary>
    public string Output => _process.StandardOutput + _process.StandardError;

    /// <summary>Asks qemu-io to quit (it lets go of the image and its locks); kills it if it does not.</summary>
    public void Dispose()
    {
        if (!_process.HasExited)
        {
            try
            {
                _process.WriteLine("quit");
            }
            catch (IOException)
            {
                // It went away on its own.
            }

            _process.CloseInput();
            _process.TryWaitForExit(Timeout);
        }

        _process.Dispose();
    }
}
