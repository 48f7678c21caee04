using Qcow2Mount.Core.Hosting;

namespace Qcow2Mount.Cli.Mount;

/// <summary>
/// <c>qcow2mount open [--read-only] IMAGE</c>: what a double-click on a .qcow2 runs (the .deb's qcow2mount.desktop).
/// Mounts IMAGE where the platform puts a mount nobody placed (<see cref="IMountHost.ChooseMountPoint"/>) through the
/// <c>mount</c> verb, read-only when the user may not write IMAGE, then shows the place
/// (<see cref="IMountHost.Reveal"/>). An image that is already mounted is not mounted again: its place is shown.
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

        string image = Path.GetFullPath(images[0]);
        if (Directory.Exists(image))
        {
            throw new MountFailedException($"{image}: is a directory, not an image file");
        }

        if (!File.Exists(image))
        {
            throw new MountFailedException($"{image}: no such image file");
        }

        var host = MountHosts.ForThisPlatform();
        if (host.Background is null)
        {
            // Windows: the mount serves in this process, so the mount verb's own double-click form picks the place,
            // shows it once it serves, and shows the place of an image that is mounted already.
            return new MountCommand().Run(readOnly || !MayWrite(image) ? ["--read-only", "--", image] : ["--", image]);
        }

        string? mountPoint = host.MountsOfOurs().Where(m => m.Source == image).Select(m => m.MountPoint).FirstOrDefault();
        if (mountPoint is null)
        {
            mountPoint = host.ChooseMountPoint(image, out bool created);
            int code = 2;
            try
            {
                code = new MountCommand().Run(readOnly || !MayWrite(image) ? ["--read-only", "--", image, mountPoint] : ["--", image, mountPoint]);
                if (code != 0)
                {
                    return code;
                }
            }
            finally
            {
                if (code != 0 && created)
                {
                    TryDeleteEmpty(mountPoint);
                }
            }
        }

        host.Reveal(mountPoint);
        return 0;
    }

    /// <summary>
    /// Whether the user may write <paramref name="image"/> (permissions, ACLs, a read-only file system): an open for
    /// writing that is closed at once, which changes nothing.
    /// </summary>
    private static bool MayWrite(string image)
    {
        try
        {
            using var handle = File.OpenHandle(image, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
            return true;
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            return false;
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
            // Not empty or still busy: leave it; ChooseMountPoint skips folders with something in them.
        }
    }
}
