using System.Diagnostics;
using System.Text;

namespace Qcow2Mount.TestSupport;

/// <summary>
/// A running <c>qemu-io</c> that keeps an image open (and so holds QEMU's locks on it, writer locks unless read-only)
/// until disposed: the real "another process uses this image" for lock tests. It reads its commands from stdin; the
/// constructor returns once qemu-io has opened the image and answered a read.
/// </summary>
public sealed class QemuIoHolder : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly SemaphoreSlim _lines = new(0);

    /// <param name="format">qcow2 or raw (given explicitly, so qemu-io does not probe).</param>
    /// <param name="readOnly">qemu-io -r: reader locks instead of writer locks.</param>
    public QemuIoHolder(string image, string format, bool readOnly = false)
    {
        var start = new ProcessStartInfo("qemu-io")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in (string[])["-f", format, .. readOnly ? (string[])["-r"] : [], image])
        {
            start.ArgumentList.Add(a);
        }

        _process = Process.Start(start) ?? throw new ExternalCommandException("cannot start qemu-io");
        _process.OutputDataReceived += (_, e) => Received(e.Data);
        _process.ErrorDataReceived += (_, e) => Received(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        _process.StandardInput.WriteLine("read 0 512");
        _process.StandardInput.Flush();

        var deadline = DateTime.UtcNow + Timeout;
        while (!Output.Contains("read 512/512 bytes", StringComparison.Ordinal))
        {
            if (_process.HasExited || DateTime.UtcNow > deadline)
            {
                Dispose();
                throw new ExternalCommandException($"qemu-io did not open {image}: {Output}");
            }

            _lines.Wait(TimeSpan.FromMilliseconds(100));
        }
    }

    /// <summary>Everything qemu-io printed so far.</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            try
            {
                _process.StandardInput.WriteLine("quit");
                _process.StandardInput.Close();
            }
            catch (IOException)
            {
                // It went away on its own.
            }

            if (!_process.WaitForExit(Timeout))
            {
                _process.Kill();
            }
        }

        _process.WaitForExit(); // drains the output readers before the semaphore goes
        _process.Dispose();
        _lines.Dispose();
    }

    private void Received(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }

        _lines.Release();
    }
}
