using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using Qcow2Mount.Core;
using Qcow2Mount.Core.Vfs;
using Qcow2Mount.WinFsp;
using Qcow2Mount.WinFsp.Interop;

namespace Qcow2Mount.WinFsp.Driver;

/// <summary>
/// <c>driver rw|ro IMAGE...</c>: mounts the images through the real WinFsp shim (real DLL loader, registry lookup,
/// P/Invoke, interface table) and waits until WinFsp reports the dispatcher stopped, then unmounts. Under Wine the
/// DLL is the fake, whose dispatcher runs a scripted scenario. Engine flushes and disposals are reported to the fake
/// (FakeWinFsp_Note) so they land in its ordered call log. Exit codes: 0 done, 1 usage, 2 WinFsp missing, 3 timeout.
/// </summary>
[SupportedOSPlatform("windows")]
internal static unsafe class Program
{
    private static delegate* unmanaged[Cdecl]<char*, void> _note;

    public static int Main(string[] args)
    {
        if (args.Length < 2 || args[0] is not ("rw" or "ro"))
        {
            Console.Error.WriteLine("usage: driver rw|ro IMAGE...");
            return 1;
        }

        bool readOnly = args[0] == "ro";
        try
        {
            var api = new WinFspApi();
            _note = (delegate* unmanaged[Cdecl]<char*, void>)NativeLibrary.GetExport(NativeLibrary.Load(WinFspLibrary.LoadedPath!), "FakeWinFsp_Note");
            Note("loaded " + WinFspLibrary.LoadedPath);
            var directory = new ImageDirectory(caseSensitiveNames: false, readOnly);
            foreach (string image in args[1..])
            {
                var disk = DiskImage.Open(image, new ImageOpenOptions { ReadOnly = readOnly });
                directory.Add(image, new NotingDisk(disk, RawNames.For(image), Note));
            }

            using var host = new WinFspHost(api, directory, message => Note("log " + message));
            Note("owner " + host.FileSystem.Security.Owner);
            host.Mount(null);
            Note("mounted " + host.MountPoint);
            if (!host.Stopped.WaitOne(TimeSpan.FromSeconds(90)))
            {
                Console.Error.WriteLine("driver: the dispatcher did not stop within 90 s");
                return 3;
            }

            host.Unmount();
            Note("unmounted");
            return 0;
        }
        catch (WinFspNotInstalledException e)
        {
            Console.Error.WriteLine("qcow2mount: " + e.Message);
            return 2;
        }
    }

    private static void Note(string text)
    {
        fixed (char* p = text)
        {
            _note(p);
        }
    }
}
