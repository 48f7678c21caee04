using System.Diagnostics;
using System.Runtime.Versioning;
using Qcow2Mount.Core.Hosting;
using Qcow2Mount.Core.Vfs;

namespace Qcow2Mount.WinFsp.Hosting;

/// <summary>
/// Mounts on Windows through WinFsp (<see cref="WinFspHost"/>): on a drive letter ("Q:") or a directory WinFsp makes.
/// There is no background server: the mount serves in the process that mounted (the console window of a
/// double-click), and other processes reach it through its stop event (<see cref="WinFspServer"/>), found in the
/// user's mount records (<see cref="MountRecords"/>). Platform mount options (-o) do not exist here.
/// </summary>
[SupportedOSPlatform("windows")]
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "The server is ended by BeginServing's result, after the images are closed.")]
internal sealed class WinFspMountHost : IMountHost
{
    /// <summary>WinFsp's own order for "any free letter": Z: down to D: (A: and B: are floppies, C: the system).</summary>
    private const string DriveLetters = "ZYXWVUTSRQPONMLKJIHGFED";

    private static readonly TimeSpan ServerPoll = TimeSpan.FromMilliseconds(50);

    private readonly Func<IWinFspApi> _api;
    private IWinFspApi? _loaded;
    private WinFspServer? _server;

    /// <param name="api">The WinFsp functions (default: load WinFsp's DLL when first needed).</param>
    public WinFspMountHost(Func<IWinFspApi>? api = null)
    {
        _api = api ?? (() => new WinFspApi());
    }

    public bool CaseSensitiveNames => false;

    public IBackgroundMounting? Background => null;

    /// <summary>"q:" or "Q:\" → "Q:"; anything else a full path without a trailing separator.</summary>
    public string NormalizeMountPoint(string mountPoint) =>
        DriveOf(mountPoint) is { } drive ? drive : Path.TrimEndingDirectorySeparator(Path.GetFullPath(mountPoint));

    /// <summary>The last argument is the place when it is a drive ("Q:") or not an existing file (a directory to be made).</summary>
    public bool NamesMountPoint(IReadOnlyList<string> positionals) =>
        positionals.Count >= 2 && (DriveOf(positionals[^1]) is not null || !File.Exists(positionals[^1]));

    public bool AcceptsOption(string option) => false;

    /// <summary>WinFsp's DLL loads (else <see cref="WinFspNotInstalledException"/>); a drive letter is free; a directory does not exist yet but its parent does.</summary>
    public void Check(MountSpec spec)
    {
        _ = Api;
        string mountPoint = spec.MountPoint;
        if (DriveOf(mountPoint) is { } drive)
        {
            if (UsedLetters().Contains(drive[0]))
            {
                throw new MountFailedException($"{drive} is in use (choose a free drive letter, or let qcow2mount pick one)");
            }

            return;
        }

        if (Path.Exists(mountPoint))
        {
            throw new MountFailedException($"{mountPoint}: exists; WinFsp mounts on a directory it makes itself (name one that does not exist yet)");
        }

        if (Path.GetDirectoryName(mountPoint) is not { } parent || !Directory.Exists(parent))
        {
            throw new MountFailedException($"{mountPoint}: the folder it would be made in does not exist");
        }
    }

    public IDisposable BeginServing(MountSpec spec)
    {
        if (_server is not null)
        {
            throw new InvalidOperationException("this host serves a mount already");
        }

        _server = new WinFspServer();
        return new Ending(this);
    }

    public IMount Mount(IVirtualFileSystem fileSystem, MountSpec spec, Action<IMount> onReady, Action<string> log)
    {
        var server = _server ?? throw new InvalidOperationException("BeginServing comes first");
        var host = new WinFspHost(Api, fileSystem, log, ownsFileSystem: false);
        try
        {
            host.Mount(spec.MountPoint, spec.Threads);
        }
        catch (WinFspException e)
        {
            host.Dispose();
            throw new MountFailedException($"{spec.MountPoint}: cannot mount: {e.Message}");
        }

        var mount = new WinFspMount(host, fileSystem, server);
        try
        {
            mount.Record();
            onReady(mount);
        }
        catch
        {
            mount.Dispose();
            throw;
        }

        return mount;
    }

    /// <summary>One entry per image of every live mount of this user (a mount of several images is found by any of them).</summary>
    public IEnumerable<MountEntry> MountsOfOurs() =>
        MountRecords.Read().SelectMany(r => r.Images.Select(image => new MountEntry(r.MountPoint, image, WinFspHost.FileSystemName, IsOurs: true)));

    /// <summary>The first free drive letter, Z: down to D: (letters of our live mounts count as used). Nothing is made.</summary>
    public string ChooseMountPoint(string image, out bool created)
    {
        created = false;
        var used = UsedLetters();
        foreach (string letter in MountRecords.Read().Select(r => r.MountPoint).Where(m => DriveOf(m) is not null))
        {
            used.Add(letter[0]);
        }

        foreach (char letter in DriveLetters)
        {
            if (!used.Contains(letter))
            {
                return letter + ":";
            }
        }

        throw new MountFailedException("no free drive letter (D: to Z: are all in use): name a folder that does not exist yet to mount on, e.g. qcow2mount disk.qcow2 C:\\mnt\\disk");
    }

    /// <summary>Explorer on the mount point; if it cannot be started, the place is printed.</summary>
    public void Reveal(string mountPoint)
    {
        string target = DriveOf(mountPoint) is { } drive ? drive + "\\" : mountPoint;
        try
        {
            using var explorer = Process.Start(new ProcessStartInfo("explorer.exe", [target]) { UseShellExecute = false });
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            Console.Error.WriteLine($"qcow2mount: cannot start Explorer: {e.Message}");
            Console.WriteLine(target);
        }
    }

    public MountEntry? Find(string mountPoint)
    {
        var record = MountRecords.Read().FirstOrDefault(r => string.Equals(r.MountPoint, mountPoint, StringComparison.OrdinalIgnoreCase));
        if (record is not null)
        {
            return new MountEntry(record.MountPoint, record.Images.Count > 0 ? record.Images[0] : string.Empty, WinFspHost.FileSystemName, IsOurs: true);
        }

        return DriveOf(mountPoint) is { } drive && UsedLetters().Contains(drive[0])
            ? new MountEntry(drive, drive, "drive", IsOurs: false)
            : null;
    }

    /// <summary>Sets the mount's stop event, then (unless <paramref name="lazy"/>) waits until its server has closed the images and let the event go.</summary>
    public void Unmount(string mountPoint, bool lazy, TimeSpan timeout)
    {
        var record = MountRecords.Read().FirstOrDefault(r => string.Equals(r.MountPoint, mountPoint, StringComparison.OrdinalIgnoreCase))
            ?? throw new MountFailedException($"{mountPoint}: not mounted");
        if (!EventWaitHandle.TryOpenExisting(record.StopEventName, out var stop))
        {
            return; // ended between the read and now
        }

        using (stop)
        {
            stop.Set();
        }

        if (lazy)
        {
            return;
        }

        var clock = Stopwatch.StartNew();
        while (MountRecords.IsServing(record.StopEventName))
        {
            if (clock.Elapsed > timeout)
            {
                throw new MountFailedException($"{mountPoint}: asked to unmount, but its server has not finished after {timeout.TotalSeconds} s");
            }

            Thread.Sleep(ServerPoll);
        }
    }

    /// <summary>"q:", "Q:\" or "Q:/" → "Q:"; null for anything else.</summary>
    internal static string? DriveOf(string text) =>
        text.Length is 2 or 3 && char.IsAsciiLetter(text[0]) && text[1] == ':' && (text.Length == 2 || text[2] is '\\' or '/')
            ? char.ToUpperInvariant(text[0]) + ":"
            : null;

    private IWinFspApi Api => _loaded ??= _api();

    /// <summary>Letters Windows reports as drives for this logon session.</summary>
    private static HashSet<char> UsedLetters() =>
        Environment.GetLogicalDrives().Where(d => d.Length >= 2 && d[1] == ':').Select(d => char.ToUpperInvariant(d[0])).ToHashSet();

    /// <summary>BeginServing's result: ends the server (and releases a waiting console handler) after the images are closed.</summary>
    private sealed class Ending(WinFspMountHost host) : IDisposable
    {
        public void Dispose()
        {
            host._server?.Dispose();
            host._server = null;
        }
    }
}
