using System.Runtime.Versioning;
using System.Text;

namespace Qcow2Mount.WinFsp.Hosting;

/// <summary>
/// What this user has mounted where, for <c>qcow2mount unmount</c>, the "Unmount" verb and a second double-click:
/// one file per mount in %LOCALAPPDATA%\Qcow2Mount\mounts (the user's own profile, so other users neither see nor
/// forge it), written by the server once the mount serves and deleted when it ends. The lines: the stop event's
/// name, the mount point, then each image's full path. A record counts only while its stop event exists: the server
/// holds that event open until it has closed its images and Windows deletes a named event with the last handle, so a
/// record left by a killed server is recognised as stale (and removed) instead of being trusted.
/// </summary>
[SupportedOSPlatform("windows")]
internal static class MountRecords
{
    private const string Extension = ".mount";

    /// <summary>%LOCALAPPDATA%\Qcow2Mount\mounts.</summary>
    public static string DirectoryPath =>
        Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.DoNotVerify), "Qcow2Mount", "mounts");

    /// <summary>Records the mount (replacing a stale record of the same mount point). Returns the file to delete at the end.</summary>
    public static string Write(MountRecord record)
    {
        Directory.CreateDirectory(DirectoryPath);
        string file = FileOf(record.MountPoint);
        var text = new StringBuilder();
        text.Append(record.StopEventName).Append('\n').Append(record.MountPoint).Append('\n');
        foreach (string image in record.Images)
        {
            text.Append(image).Append('\n');
        }

        string temporary = file + "." + Environment.ProcessId + ".tmp";
        File.WriteAllText(temporary, text.ToString());
        File.Move(temporary, file, overwrite: true);
        return file;
    }

    public static void Delete(string file)
    {
        try
        {
            File.Delete(file);
        }
        catch (IOException)
        {
            // Left behind: its stop event is gone with the server, so readers treat it as stale.
        }
    }

    /// <summary>The live records; stale ones are deleted on the way.</summary>
    public static IReadOnlyList<MountRecord> Read()
    {
        if (!Directory.Exists(DirectoryPath))
        {
            return [];
        }

        var live = new List<MountRecord>();
        foreach (string file in Directory.EnumerateFiles(DirectoryPath, "*" + Extension))
        {
            string[] lines;
            try
            {
                lines = File.ReadAllLines(file);
            }
            catch (IOException)
            {
                continue;
            }

            if (lines.Length < 3 || !IsServing(lines[0]))
            {
                Delete(file);
                continue;
            }

            live.Add(new MountRecord(lines[1], lines[0], lines[2..].Where(l => l.Length > 0).ToArray()));
        }

        return live;
    }

    /// <summary>True while the server that owns <paramref name="stopEventName"/> runs (it holds the event until it has closed its images).</summary>
    public static bool IsServing(string stopEventName)
    {
        if (!EventWaitHandle.TryOpenExisting(stopEventName, out var handle))
        {
            return false;
        }

        handle.Dispose();
        return true;
    }

    /// <summary>One file per mount point: "Q:" → Q%3A.mount (the name escaped, upper case: Windows compares ignoring case).</summary>
    private static string FileOf(string mountPoint) =>
        Path.Combine(DirectoryPath, Uri.EscapeDataString(mountPoint.ToUpperInvariant()) + Extension);
}
