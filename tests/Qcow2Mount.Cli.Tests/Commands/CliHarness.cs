using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Cli.Tests.Commands;

/// <summary>Runs the command line in-process with stdout/stderr captured (QEMU, the oracle, runs through QemuTools).</summary>
internal static class CliHarness
{
    private static readonly object ConsoleGate = new();

    public static (int Code, string Stdout, string Stderr) Run(params string[] args)
    {
        lock (ConsoleGate)
        {
            var oldOut = Console.Out;
            var oldErr = Console.Error;
            var stdout = new StringWriter { NewLine = "\n" };
            var stderr = new StringWriter { NewLine = "\n" };
            Console.SetOut(stdout);
            Console.SetError(stderr);
            try
            {
                int code = CommandLine.Run(args);
                return (code, stdout.ToString(), stderr.ToString());
            }
            finally
            {
                Console.SetOut(oldOut);
                Console.SetError(oldErr);
            }
        }
    }
}
