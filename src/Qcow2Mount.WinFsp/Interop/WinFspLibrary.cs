using System.Reflection;
using System.Runtime.InteropServices;

namespace Qcow2Mount.WinFsp.Interop;

/// <summary>
/// Finds and loads WinFsp's DLL once per process: InstallDir from HKLM\SOFTWARE\WinFsp in the 32-bit registry view
/// (WinFsp's MSI is 32-bit), then <c>InstallDir\bin\winfsp-&lt;arch&gt;.dll</c> for the process architecture
/// (winfsp-notes §1). The DLL is not on PATH, so every <see cref="WinFspNative"/> import is resolved to this handle.
/// </summary>
internal static unsafe class WinFspLibrary
{
    public const string RegistryKey = @"SOFTWARE\WinFsp";
    public const string InstallDirValue = "InstallDir";

    private static readonly object Gate = new();
    private static nint _handle;

    /// <summary>The path the DLL was loaded from (null until <see cref="Load"/> succeeded).</summary>
    public static string? LoadedPath { get; private set; }

    /// <summary>winfsp-x64.dll, winfsp-a64.dll or winfsp-x86.dll for the architecture this process runs as.</summary>
    public static string DllName(Architecture architecture) => architecture switch
    {
        Architecture.X64 => "winfsp-x64.dll",
        Architecture.Arm64 => "winfsp-a64.dll",
        Architecture.X86 => "winfsp-x86.dll",
        _ => throw new WinFspNotInstalledException($"WinFsp has no DLL for {architecture} processes"),
    };

    /// <summary>InstallDir + "bin\" + the DLL name; InstallDir ends with a backslash in WinFsp's key, but need not.</summary>
    public static string DllPath(string installDir, Architecture architecture) =>
        installDir.TrimEnd('\\', '/') + @"\bin\" + DllName(architecture);

    /// <summary>Loads the DLL (once); throws <see cref="WinFspNotInstalledException"/> when WinFsp is missing.</summary>
    public static void Load()
    {
        lock (Gate)
        {
            if (_handle != 0)
            {
                return;
            }

            if (!OperatingSystem.IsWindows())
            {
                throw new WinFspNotInstalledException("WinFsp mounts need Windows");
            }

            string installDir = ReadInstallDir()
                ?? throw new WinFspNotInstalledException($"WinFsp is not installed ({WinFspNotInstalledException.DownloadHint})");
            string path = DllPath(installDir, RuntimeInformation.ProcessArchitecture);
            if (!NativeLibrary.TryLoad(path, out nint handle))
            {
                throw new WinFspNotInstalledException($"WinFsp is not installed: cannot load {path} ({WinFspNotInstalledException.DownloadHint})");
            }

            NativeLibrary.SetDllImportResolver(typeof(WinFspLibrary).Assembly, Resolve);
            LoadedPath = path;
            _handle = handle;
        }
    }

    /// <summary>HKLM\SOFTWARE\WinFsp\InstallDir (32-bit view), or null when the key or value is missing or empty.</summary>
    private static string? ReadInstallDir()
    {
        if (Advapi32.RegOpenKeyEx(Advapi32.LocalMachine, RegistryKey, 0, Advapi32.KeyQueryValue | Advapi32.KeyWow6432, out nint key) != Advapi32.ErrorSuccess)
        {
            return null;
        }

        try
        {
            uint bytes = 0;
            int status = Advapi32.RegGetValue(key, null, InstallDirValue, Advapi32.RrfRtRegSz, out _, null, ref bytes);
            if (status != Advapi32.ErrorSuccess || bytes < sizeof(char))
            {
                return null;
            }

            // The value may grow between the two calls: retry with the size the second call reports.
            while (true)
            {
                char[] buffer = new char[(bytes / sizeof(char)) + 1];
                fixed (char* p = buffer)
                {
                    bytes = (uint)(buffer.Length * sizeof(char));
                    status = Advapi32.RegGetValue(key, null, InstallDirValue, Advapi32.RrfRtRegSz, out _, p, ref bytes);
                }

                if (status == Advapi32.ErrorMoreData)
                {
                    continue;
                }

                if (status != Advapi32.ErrorSuccess)
                {
                    return null;
                }

                string dir = new string(buffer, 0, (int)(bytes / sizeof(char))).TrimEnd('\0');
                return dir.Length == 0 ? null : dir;
            }
        }
        finally
        {
            _ = Advapi32.RegCloseKey(key);
        }
    }

    private static nint Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath) =>
        name == WinFspNative.LibraryName ? _handle : 0;
}
