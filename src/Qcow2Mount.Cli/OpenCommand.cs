using System.ComponentModel;
using System.Diagnostics;
using Qcow2Mount.Cli.Interop;
using Qcow2Mount.Fuse;

namespace Qcow2Mount.Cli;

/// <summary>
/// <c>qcow2mount open [--read-only] IMAGE</c>: what a double-click on a .qcow2 runs on a Linux desktop (the .deb's
/// qcow2mount.desktop). Mounts IMAGE in its own folder under <c>$XDG_RUNTIME_DIR/qcow2mount</c> through the <c>mount</c>
/// verb (which serves in the background), read-only when the user may not write IMAGE, then opens the folder with
/// xdg-open. An image that is already mounted is not mounted again: its folder is opened.
/// </summary>
internal sealed class OpenCommand : ICommand
{
    public const string Help = """
        usage: qcow2mount open [--read-only] IMAGE

        What opening a .qcow2 file on a Linux desktop runs. Mounts IMAGE in the folder
        $XDG_RUNTIME_DIR/qcow2mount/NAME (NAME: the file name without .qcow2; NAME-2, NAME-3, ...
        when that folder holds another image) and opens the folder with xdg-open, or prints it
        when there is no xdg-open. The mount is read-write when you may write IMAGE, else read-only.
        If IMAGE is mounted already, its folder is opened and nothing is mounted.
        Without XDG_RUNTIME_DIR the folders are made where 'qcow2mount unmount --help' keeps pid files.
        End the mount with 'qcow2mount unmount FOLDER'.

        Options:
          -r, --read-only   mount read-only even if IMAGE is writable
          -h, --help        show this help

        Exit status: 0 mounted (or mounted already) and opened, 1 usage error, 2 mount failed.
        """;

    /// <summary>How many NAME-N folders are tried before giving up (each one a mount of another image of that name).</summary>
    private const int MaxFolderSuffix = 100;

    /// <summary>Longest wait for xdg-open; an opener still running after that is left to run.</summary>
    private static readonly TimeSpan OpenerTimeout = TimeSpan.FromSeconds(30);

    public string Name => "open";

    public string Summary => "mount an image under $XDG_RUNTIME_DIR/qcow2mount and open its folder (double-click)";

    public int Run(string[] args)
    {
        bool readOnly = false;
        bool optionsEnded = false;
        var images = new List<string>();
        foreach (string arg in args)
        {
            switch (arg)
            {
                case "--" when !optionsEnded:
                    optionsEnded = true;
                    break;
                case "-h" or "--help" when !optionsEnded:
                    Console.WriteLine(Help);
                    return 0;
                case "-r" or "--read-only" when !optionsEnded:
                    readOnly = true;
                    break;
                case var a when a.StartsWith('-') && a.Length > 1 && !optionsEnded:
                    throw new UsageException($"open: unknown option '{a}' (see 'qcow2mount open --help')");
                default:
                    images.Add(arg);
                    break;
            }
        }

        if (images.Count != 1)
        {
            throw new UsageException("open: expected one IMAGE (see 'qcow2mount open --help')");
        }

        if (!OperatingSystem.IsLinux())
        {
            throw new UsageException("open: is for Linux desktops (FUSE and xdg-open)");
        }

        string image = Path.GetFullPath(images[0]);
        if (Directory.Exists(image))
        {
            throw new MountFailedException($"{image}: is a directory, not an image file");
        }

        if (!File.Exists(image))
        {
            throw new MountFailedException($"{image}: no such image file");
        }

        string root = MountRoot();
        string? folder = FindMount(root, image);
        if (folder is null)
        {
            folder = FreeFolder(root, FolderName(image));
            int code = MountAt(image, folder, readOnly || Libc.Access(image, Libc.W_OK) != 0);
            if (code != 0)
            {
                return code;
            }
        }

        OpenFolder(folder);
        return 0;
    }

    /// <summary>$XDG_RUNTIME_DIR/qcow2mount (private to the user, emptied at logout), else the pid file folder.</summary>
    private static string MountRoot()
    {
        string? runtime = Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR");
        string root = runtime is { Length: > 0 } ? Path.Combine(Path.GetFullPath(runtime), "qcow2mount") : MountPidFile.DirectoryPath;
        return Path.TrimEndingDirectorySeparator(root);
    }

    /// <summary>disk.qcow2 -> disk (the raw file inside is disk.raw); other names stay as they are.</summary>
    private static string FolderName(string image)
    {
        string name = Path.GetFileName(image);
        return name.Length > ".qcow2".Length && name.EndsWith(".qcow2", StringComparison.OrdinalIgnoreCase) ? name[..^".qcow2".Length] : name;
    }

    /// <summary>A mount of ours that shows <paramref name="image"/> (the mount's source), preferably one under <paramref name="root"/>.</summary>
    private static string? FindMount(string root, string image)
    {
        var mounts = MountTable.Read().Where(e => e.Type == MountTable.OurType && e.Source == image).Select(e => e.MountPoint).ToList();
        return mounts.FirstOrDefault(m => Path.GetDirectoryName(m) == root) ?? mounts.FirstOrDefault();
    }

    /// <summary>The first of NAME, NAME-2, … that is neither a mount point nor a file nor a folder with something in it.</summary>
    private static string FreeFolder(string root, string name)
    {
        for (int i = 1; i <= MaxFolderSuffix; i++)
        {
            string folder = Path.Combine(root, i == 1 ? name : $"{name}-{i}");
            bool free = Directory.Exists(folder) ? !Directory.EnumerateFileSystemEntries(folder).Any() : !Path.Exists(folder);
            if (free && MountTable.Find(folder) is null)
            {
                return folder;
            }
        }

        throw new MountFailedException($"{Path.Combine(root, name)}: that folder and {MaxFolderSuffix - 1} more like it are in use");
    }

    /// <summary>Runs the mount verb (which serves in the background and returns once it does); a folder made here goes again if that fails.</summary>
    private static int MountAt(string image, string folder, bool readOnly)
    {
        bool created = !Directory.Exists(folder);
        Directory.CreateDirectory(folder);
        int code = 2;
        try
        {
            code = new MountCommand().Run(readOnly ? ["--read-only", "--", image, folder] : ["--", image, folder]);
            return code;
        }
        finally
        {
            if (code != 0 && created)
            {
                TryDeleteEmpty(folder);
            }
        }
    }

    private static void TryDeleteEmpty(string folder)
    {
        try
        {
            Directory.Delete(folder);
        }
        catch (IOException)
        {
            // Not empty or still busy: leave it; FreeFolder skips folders with something in them.
        }
    }

    /// <summary>xdg-open FOLDER (the desktop's file manager); without xdg-open, or when it fails, the folder is printed.</summary>
    private static void OpenFolder(string folder)
    {
        string? opener = FindOnPath("xdg-open");
        if (opener is null)
        {
            Console.WriteLine(folder);
            return;
        }

        var start = new ProcessStartInfo(opener) { UseShellExecute = false };
        start.ArgumentList.Add(folder);
        try
        {
            using var process = Process.Start(start) ?? throw new Win32Exception("not started");
            if (!process.WaitForExit(OpenerTimeout) || process.ExitCode == 0)
            {
                return;
            }

            Console.Error.WriteLine($"qcow2mount: xdg-open {folder} failed (exit code {process.ExitCode})");
        }
        catch (Win32Exception e)
        {
            Console.Error.WriteLine($"qcow2mount: cannot run {opener}: {e.Message}");
        }

        Console.WriteLine(folder);
    }

    private static string? FindOnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? string.Empty)
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, program))
            .FirstOrDefault(File.Exists);
}
