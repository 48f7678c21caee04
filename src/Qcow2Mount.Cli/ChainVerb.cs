using Qcow2Mount.Cli.Options;
using Qcow2Mount.Core.Errors;

namespace Qcow2Mount.Cli;

/// <summary>What <see cref="CommitCommand"/> and <see cref="RebaseCommand"/> share: qemu-img's exit codes (1 for any error), Ctrl+C, refusals.</summary>
internal static class ChainVerb
{
    /// <summary>qemu-img's cache modes (-t, -T): accepted, not acted on.</summary>
    public static bool IsCacheMode(string mode) => mode is "none" or "writeback" or "writethrough" or "directsync" or "unsafe";

    /// <summary>A qemu-img option this verb does not implement is a one-line usage error naming it.</summary>
    public static void RefuseUnsupported(string verb, ArgumentReader a, params string[] options)
    {
        if (options.FirstOrDefault(a.Has) is { } given)
        {
            throw new UsageException($"{verb}: option {given} is not supported");
        }
    }

    /// <summary>Runs <paramref name="operation"/>; every failure is one line and exit 1 (as qemu-img), an interruption 130.</summary>
    public static int Run(string verb, ProgressLine progress, Action operation)
    {
        try
        {
            operation();
            progress.Finish();
            return 0;
        }
        catch (OperationCanceledException)
        {
            progress.Finish();
            Console.Error.WriteLine($"qcow2mount: {verb}: interrupted");
            return InterruptSignal.ExitCode;
        }
        catch (Exception e) when (e is Qcow2Exception or UsageException or ArgumentException or IOException or UnauthorizedAccessException)
        {
            progress.Finish();
            Console.Error.WriteLine($"qcow2mount: {e.Message}");
            return 1;
        }
    }
}
