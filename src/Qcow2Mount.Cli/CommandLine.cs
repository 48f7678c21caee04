using Qcow2Mount.Cli.Mount;
using Qcow2Mount.Core.Errors;

namespace Qcow2Mount.Cli;

/// <summary>Dispatches to the verbs and is the one place that turns exceptions into a one-line message and an exit code.</summary>
internal static class CommandLine
{
    private static readonly ICommand[] Commands =
    [
        new MountCommand(),
        new UnmountCommand(),
        new OpenCommand(),
        new MountDemoCommand(),
        new CreateCommand(),
        new InfoCommand(),
        new CheckCommand(),
        new MapCommand(),
        new ConvertCommand(),
        new ResizeCommand(),
        new SnapshotCommand(),
        new CommitCommand(),
        new RebaseCommand(),
        new BitmapCommand(),
        new BenchCommand(),
        new CompareCommand(),
        new MeasureCommand(),
        new AdviseCommand(),
    ];

    public static int Run(string[] args)
    {
        try
        {
            if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
            {
                PrintHelp();
                return args.Length == 0 ? 1 : 0;
            }

            if (args[0] is "-V" or "--version")
            {
                Console.WriteLine(VersionLine());
                return 0;
            }

            var command = Commands.FirstOrDefault(c => c.Name == args[0]);
            if (command is null && MountCommand.IsBareForm(args))
            {
                // qcow2mount [options] IMAGE... MOUNTDIR, or just MOUNTDIR for the demo (the quick start).
                return args is [var only] && !only.StartsWith('-') && !File.Exists(only)
                    ? new MountDemoCommand().Run(args)
                    : new MountCommand().Run(args);
            }

            if (command is null)
            {
                throw new UsageException($"unknown command '{args[0]}' (see 'qcow2mount --help')");
            }

            return command.Run(args[1..]);
        }
        catch (UsageException e)
        {
            Console.Error.WriteLine($"qcow2mount: {e.Message}");
            return 1;
        }
        catch (Qcow2Exception e)
        {
            return Fail(e.Message);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Fail(e.Message);
        }
    }

    /// <summary>
    /// Prints the one-line error (exit code 2); on Windows, when the program has a console window of its own (started
    /// by a double-click or a menu verb), also shows it in a message box: that window closes as the program exits.
    /// </summary>
    private static int Fail(string message)
    {
        Console.Error.WriteLine($"qcow2mount: {message}");
        if (OperatingSystem.IsWindows() && WinFsp.Hosting.ConsoleWindow.IsOwn())
        {
            WinFsp.Hosting.ConsoleWindow.ShowError(message);
        }

        return 2;
    }

    /// <summary>
    /// "qcow2mount version 0.1.0 (commit 1a2b3c4)", as qemu-img --version names its version: the product version the
    /// .deb and the MSI carry, and the commit it was built from when the build knew it.
    /// </summary>
    internal static string VersionLine()
    {
        string[] parts = BuildInfo.InformationalVersion.Split('+', 2);
        return parts.Length == 1
            ? $"qcow2mount version {parts[0]}"
            : $"qcow2mount version {parts[0]} (commit {parts[1][..Math.Min(12, parts[1].Length)]})";
    }

    private static void PrintHelp()
    {
        Console.WriteLine("usage: qcow2mount [options] IMAGE [IMAGE...] MOUNTDIR   (same as 'qcow2mount mount ...')");
        Console.WriteLine("       qcow2mount MOUNTDIR                            (mount a demo image: the quick start)");
        Console.WriteLine("       qcow2mount COMMAND [options] ...");
        Console.WriteLine("       qcow2mount --version");
        Console.WriteLine();
        Console.WriteLine("Commands:");
        foreach (var c in Commands)
        {
            Console.WriteLine($"  {c.Name,-10} {c.Summary}");
        }

        Console.WriteLine();
        Console.WriteLine("Run 'qcow2mount COMMAND --help' for the options of one command.");
    }
}
