using System.Globalization;
using Qcow2Mount.TestSupport;
using Qcow2Mount.TestSupport.Wine;

namespace Qcow2Mount.WinFsp.Tests.Wine;

/// <summary>
/// The shim as Windows runs it: the driver published for win-x64 under Wine, the real DLL loader finding the fake
/// winfsp-x64.dll through the registry, the fake calling the real interface table on native threads. Bytes read
/// must equal qemu-img's raw conversion; after writes the image must check clean and equal a qemu-io twin; the
/// unmount order is read from the fake's log; a table with two slots swapped must be caught by the same checks.
/// </summary>
[NonParallelizable]
[Category(TestCategories.Qemu)]
[Category(TestCategories.Slow)]
public sealed class WinFspWineTests
{
    internal const long Size = (3L << 20) + 1536;
    private const long SecondSize = 1L << 20;
    private const string Ok = "0x00000000";
    private const string EndOfFile = "0xC0000011";
    private const string NotFound = "0xC0000034";
    private const string DiskFull = "0xC000007F";
    private const string WriteProtected = "0xC00000A2";
    private const string BufferOverflow = "0x80000005";
    private const string ReadAccess = "120089";
    private const string ReadWriteAccess = "12019F";
    private const ulong Time1 = 126_000_000_000_000_000;
    private const ulong Time2 = 130_000_000_000_000_000;

    /// <summary>The writes of the read-write scenario: (offset, length, byte); the twin gets the same through qemu-io.</summary>
    private static readonly (long Offset, int Length, byte Value)[] Writes =
        [(0, 4096, 0xA1), (70_000, 5000, 0xB2), ((2L << 20) - 512, 1024, 0xC3)];

    private static WineWorld World => WineWorldSetUp.World;

    [Test]
    public void Driver_ReadWriteScenario_ReadsEqualQemuWritesCheckCleanAndUnmountInOrder()
    {
        var (image, second) = MakeImages("rw");
        string twin = image + ".twin.qcow2";
        File.Copy(image, twin);
        byte[] expected = RawOf(image);
        string dump = Path.Combine(World.Scratch, "rw.dump");

        var (result, report) = World.RunDriver("rw", [image, second], ReadWriteScript(dump), "rw");
        var problems = ReadWriteProblems(result, report, expected, dump);
        Assert.That(problems, Is.Empty, $"{result}\n--- fake report ---\n{report}");

        QemuTools.QemuIo(twin, [.. Writes.Select(w => $"write -P {w.Value} {w.Offset} {w.Length}"), $"write -P 0xdd {Size - 1536} 1536"]);
        var check = QemuTools.Check(image);
        Assert.Multiple(() =>
        {
            Assert.That(check.Corruptions + check.Leaks + check.CheckErrors, Is.Zero, check.Output);
            Assert.That(QemuTools.CompareResult(image, twin, "qcow2", "qcow2").ExitCode, Is.Zero, "qemu-img compare with the qemu-io twin");
        });
    }

    [Test]
    public void Driver_ReadOnlyScenario_WritesRefusedAndImageUnchanged()
    {
        var (image, second) = MakeImages("ro");
        byte[] before = File.ReadAllBytes(image);
        string[] script =
        [
            "open 1 \\disk.raw 120089 40",
            "open 2 \\disk.raw 12019F 40",
            "write 1 0 4096 ee",
            "write 1 0 4096 ee c",
            "setsize 1 " + Size,
            "setbasic 1 " + Time1 + " " + Time2,
            "flush 1",
            "read 1 0 4096",
            "cleanup 1 40",
            "close 1",
        ];
        var (result, report) = World.RunDriver("ro", [image, second], script, "ro");
        var problems = new List<string>();
        Want(problems, report, "Create device=WinFsp.Disk", "flags", "0x0001060E", "read-only volume flag set");
        Want(problems, report, "open 1", "status", Ok);
        Want(problems, report, "open 2", "status", WriteProtected, "open for writing");
        Want(problems, report, "write 1 offset=0", "status", WriteProtected);
        Want(problems, report, "setsize 1", "status", WriteProtected);
        Want(problems, report, "setbasic 1", "status", WriteProtected);
        Want(problems, report, "flush 1", "status", Ok);
        Want(problems, report, "read 1", "status", Ok);
        WantOrder(problems, report, "StopDispatcher", "RemoveMountPoint", "Delete", "note dispose disk.raw");
        if (report.IndexOf("note flush disk.raw") >= 0)
        {
            problems.Add("a read-only mount flushed");
        }

        Assert.Multiple(() =>
        {
            Assert.That(result.ExitCode, Is.Zero, result.ToString());
            Assert.That(problems, Is.Empty, report.ToString());
            Assert.That(File.ReadAllBytes(image), Is.EqualTo(before), "the image file is unchanged");
        });
    }

    /// <summary>Flush (10) and GetFileInfo (11) have the same signature: only the engine flush missing from the log shows the swap.</summary>
    [Test]
    public void Driver_FlushAndGetFileInfoSlotsSwapped_ScenarioChecksFail()
    {
        var problems = RunReadWriteWithSwap(10, 11, "swap-10-11", out _);
        Assert.That(problems, Has.Some.Contains("flush 3: the engine was not flushed"), string.Join('\n', problems));
    }

    /// <summary>Read (8) and Write (9): a read lands in Write with garbage arguments; the run crashes or its checks fail.</summary>
    [Test]
    public void Driver_ReadAndWriteSlotsSwapped_ScenarioChecksFail()
    {
        var problems = RunReadWriteWithSwap(8, 9, "swap-8-9", out var result);
        Assert.That(problems, Is.Not.Empty, result.ToString());
    }

    [Test]
    public void Driver_NoWinFspKey_NotInstalledMessageAndExit2()
    {
        var (image, _) = MakeImages("nokey");
        try
        {
            World.DeleteWinFspKey();
            var (result, _) = World.RunDriver("ro", [image], [], "nokey");
            Assert.Multiple(() =>
            {
                Assert.That(result.ExitCode, Is.EqualTo(2), result.ToString());
                Assert.That(result.StandardError.Trim(), Is.EqualTo("qcow2mount: WinFsp is not installed (get it from https://winfsp.dev)"));
            });
        }
        finally
        {
            World.SetInstallDir(World.InstallDir);
        }
    }

    /// <summary>WinFsp's MSI is 32-bit: a key only in the 64-bit view is not WinFsp's, so the lookup must not see it.</summary>
    [Test]
    public void Driver_KeyOnlyIn64BitView_NotInstalled()
    {
        var (image, _) = MakeImages("key64");
        try
        {
            World.DeleteWinFspKey();
            World.SetInstallDir(World.InstallDir, WineRegistryView.Registry64);
            var (result, _) = World.RunDriver("ro", [image], [], "key64");
            Assert.That(result.StandardError.Trim(), Is.EqualTo("qcow2mount: WinFsp is not installed (get it from https://winfsp.dev)"), result.ToString());
        }
        finally
        {
            World.DeleteWinFspKey(WineRegistryView.Registry64);
            World.SetInstallDir(World.InstallDir);
        }
    }

    [Test]
    public void Driver_InstallDirWithoutDll_CannotLoadMessageAndExit2()
    {
        var (image, _) = MakeImages("nodll");
        string empty = Directory.CreateDirectory(Path.Combine(World.Scratch, "EmptyWinFsp")).FullName;
        try
        {
            World.SetInstallDir(empty);
            var (result, _) = World.RunDriver("ro", [image], [], "nodll");
            Assert.Multiple(() =>
            {
                Assert.That(result.ExitCode, Is.EqualTo(2), result.ToString());
                Assert.That(result.StandardError.Trim(), Is.EqualTo(
                    $"qcow2mount: WinFsp is not installed: cannot load {WinePrefix.WindowsPath(empty)}\\bin\\winfsp-x64.dll (get it from https://winfsp.dev)"));
            });
        }
        finally
        {
            World.SetInstallDir(World.InstallDir);
        }
    }

    private List<string> RunReadWriteWithSwap(int a, int b, string name, out WineResult result)
    {
        var (image, second) = MakeImages(name);
        byte[] expected = RawOf(image);
        string dump = Path.Combine(World.Scratch, name + ".dump");
        (result, var report) = World.RunDriver("rw", [image, second], ReadWriteScript(dump), name, (a, b));
        Assert.That(report.IndexOf($"swapped slots {a} {b}"), Is.GreaterThanOrEqualTo(0), "the fake swapped the slots:\n" + report);
        return ReadWriteProblems(result, report, expected, dump);
    }

    private static string[] ReadWriteScript(string dump) =>
    [
        "volume",
        "security \\ 0",
        "security \\ 1024",
        "security \\disk.raw 1024",
        "security \\missing.raw 1024",
        "open 0 \\ " + ReadAccess + " 1",
        "list 0 4096",
        "list 0 128",
        "open 1 \\disk.raw " + ReadAccess + " 40",
        "open 2 \\missing.raw " + ReadAccess + " 0",
        $"readall 1 {Size} 65536 {WinePrefix.WindowsPath(dump)}",
        $"parallel 1 {Size} 65536 4",
        $"read 1 {Size} 4096",
        $"read 1 {Size - 100} 4096",
        "open 3 \\disk.raw " + ReadWriteAccess + " 40",
        .. Writes.Select(w => $"write 3 {w.Offset} {w.Length} {w.Value:x2}"),
        $"write 3 {Size - 512} 4096 cc",
        $"write 3 {Size - 1536} 8192 dd c",
        $"setsize 3 {Size + 4096}",
        $"setsize 3 {Size}",
        $"setbasic 3 {Time1} {Time2}",
        "getinfo 3",
        "flush 3",
        "cleanup 3 40",
        "close 3",
        "cleanup 1 0",
        "close 1",
        "cleanup 0 0",
        "close 0",
    ];

    /// <summary>Everything the read-write scenario must show; an empty list means the shim behaved.</summary>
    private static List<string> ReadWriteProblems(WineResult result, FakeReport report, byte[] expected, string dump)
    {
        var problems = new List<string>();
        if (result.ExitCode != 0)
        {
            problems.Add($"driver exit {result.ExitCode}: {result.StandardError.Trim()}");
        }

        string hash = Fnv1a(expected).ToString("X16", CultureInfo.InvariantCulture);
        Want(problems, report, "note loaded", null, null);
        Want(problems, report, "Create device=WinFsp.Disk", "version", "504");
        Want(problems, report, "Create device=WinFsp.Disk", "flags", "0x0001040E");
        Want(problems, report, "Create device=WinFsp.Disk", "name", "Qcow2Mount");
        Want(problems, report, "SetMountPoint (null)", "usercontext", "set");
        Want(problems, report, "volume", "status", Ok);
        Want(problems, report, "volume", "total", (RoundUp(Size) + SecondSize).ToString(CultureInfo.InvariantCulture));
        Want(problems, report, "volume", "label", "Qcow2Mount");
        int ownerLine = report.IndexOf("note owner");
        string owner = ownerLine >= 0 ? report.Lines[ownerLine].Split(' ')[^1] : "(none)";
        if (!owner.StartsWith("S-1-5-21-", StringComparison.Ordinal))
        {
            problems.Add($"the volume's owner is not the Windows user's SID: {owner}");
        }

        var security = owner.StartsWith("S-1-", StringComparison.Ordinal) ? SecurityDescriptor.ForOwner(owner) : SecurityDescriptor.ForOwner("S-1-0-0");
        Want(problems, report, "security \\ status=" + BufferOverflow, "size", security.Bytes.Length.ToString(CultureInfo.InvariantCulture));
        Want(problems, report, "security \\ status=" + Ok, "sddl", security.Sddl, "Windows' parser reads the descriptor back: the user, SYSTEM and Administrators only");
        Want(problems, report, "security \\ status=" + Ok, "attributes", "0x10");
        Want(problems, report, "security \\disk.raw", "status", Ok);
        Want(problems, report, "security \\disk.raw", "attributes", "0x80");
        Want(problems, report, "security \\missing.raw", "status", NotFound);
        Want(problems, report, "open 0", "status", Ok);
        string names = $"disk.raw:{Size},second.raw:{SecondSize}";
        Want(problems, report, "list 0 status=" + Ok + " calls=1", "names", names, "one buffer");
        Want(problems, report, "list 0 status=" + Ok + " calls=3", "names", names, "one entry per buffer, continued after the marker");
        Want(problems, report, "open 1", "status", Ok);
        Want(problems, report, "open 1", "size", Size.ToString(CultureInfo.InvariantCulture));
        Want(problems, report, "open 2", "status", NotFound);
        Want(problems, report, "readall 1", "status", Ok);
        Want(problems, report, "readall 1", "wrongcounts", "0");
        Want(problems, report, "readall 1", "bytes", Size.ToString(CultureInfo.InvariantCulture));
        Want(problems, report, "readall 1", "hash", hash);
        Want(problems, report, "parallel 1", "status", Ok);
        Want(problems, report, "parallel 1", "threads", "4");
        Want(problems, report, "parallel 1", "hash", hash, "reads on four native threads");
        Want(problems, report, $"read 1 offset={Size}", "status", EndOfFile);
        Want(problems, report, $"read 1 offset={Size - 100}", "status", Ok);
        Want(problems, report, $"read 1 offset={Size - 100}", "bytes", "100");
        Want(problems, report, "open 3", "status", Ok);
        foreach (var (offset, length, _) in Writes)
        {
            Want(problems, report, $"write 3 offset={offset}", "status", Ok);
            Want(problems, report, $"write 3 offset={offset}", "bytes", length.ToString(CultureInfo.InvariantCulture));
        }

        Want(problems, report, $"write 3 offset={Size - 512}", "status", DiskFull, "write across the end");
        Want(problems, report, $"write 3 offset={Size - 1536}", "status", Ok);
        Want(problems, report, $"write 3 offset={Size - 1536}", "bytes", "1536", "paging write clipped at the end");
        Want(problems, report, "setsize 3 status=" + DiskFull, null, null);
        Want(problems, report, "setsize 3 status=" + Ok, null, null);
        Want(problems, report, "setbasic 3", "creation", Time1.ToString(CultureInfo.InvariantCulture));
        Want(problems, report, "getinfo 3", "lastwrite", Time2.ToString(CultureInfo.InvariantCulture));
        Want(problems, report, "getinfo 3", "size", Size.ToString(CultureInfo.InvariantCulture));
        Want(problems, report, "flush 3", "status", Ok);
        int flush = report.IndexOf("flush 3");
        if (flush >= 0 && (flush == 0 || report.Lines[flush - 1] != "note flush disk.raw"))
        {
            problems.Add("flush 3: the engine was not flushed (no 'note flush disk.raw' right before it)");
        }

        WantOrder(problems, report, "scenario end", "DispatcherStopped 0", "StopDispatcher", "note flush disk.raw", "note flush second.raw",
            "RemoveMountPoint", "Delete", "note dispose disk.raw", "note dispose second.raw", "note unmounted");
        if (report.Lines.Any(l => l.StartsWith("bad-command", StringComparison.Ordinal) || l.StartsWith("note log", StringComparison.Ordinal) && !l.Contains("WinFsp stopped", StringComparison.Ordinal)))
        {
            problems.Add("unexpected lines: " + string.Join(" | ", report.Lines.Where(l => l.StartsWith("bad-command", StringComparison.Ordinal) || l.StartsWith("note log", StringComparison.Ordinal))));
        }

        if (!File.Exists(dump) || !File.ReadAllBytes(dump).AsSpan().SequenceEqual(expected))
        {
            problems.Add("the bytes read through the shim differ from qemu-img convert -O raw");
        }

        return problems;
    }

    /// <summary>Adds a problem unless a line starts with <paramref name="head"/> and (when given) its <paramref name="key"/> has <paramref name="value"/>.</summary>
    internal static void Want(List<string> problems, FakeReport report, string head, string? key, string? value, string? why = null)
    {
        var fields = report.Fields(head);
        if (fields is null)
        {
            problems.Add($"{head}: no such line{(why is null ? string.Empty : " (" + why + ")")}");
        }
        else if (key is not null && (!fields.TryGetValue(key, out string? actual) || actual != value))
        {
            problems.Add($"{head}: {key}={actual ?? "(missing)"}, expected {value}{(why is null ? string.Empty : " (" + why + ")")}");
        }
    }

    /// <summary>Adds a problem unless the lines appear in this order (each found after the previous one).</summary>
    internal static void WantOrder(List<string> problems, FakeReport report, params string[] heads)
    {
        int at = 0;
        foreach (string head in heads)
        {
            int i = report.IndexOf(head, at);
            if (i < 0)
            {
                problems.Add($"order: '{head}' missing after line {at} (expected {string.Join(" → ", heads)})");
                return;
            }

            at = i + 1;
        }
    }

    private static (string Image, string Second) MakeImages(string name) => MakeImages(World, name);

    /// <summary>disk.qcow2 (<see cref="Size"/>, 64 KiB clusters, data at 0, 1 MiB and the last 4 KiB) and an empty second.qcow2, in Scratch/NAME.</summary>
    internal static (string Image, string Second) MakeImages(WineWorld world, string name)
    {
        string dir = Directory.CreateDirectory(Path.Combine(world.Scratch, name)).FullName;
        string image = Path.Combine(dir, "disk.qcow2");
        QemuTools.Create(image, Size, new Dictionary<string, string> { ["cluster_size"] = "65536" });
        string pattern = Path.Combine(dir, "pattern.bin");
        var data = new byte[65536];
        new Random(11).NextBytes(data);
        File.WriteAllBytes(pattern, data);
        QemuTools.QemuIo(image, $"write -s {pattern} 0 64k", $"write -s {pattern} 1M 64k", $"write -P 0x5a {Size - 4096} 4096");
        string second = Path.Combine(dir, "second.qcow2");
        QemuTools.Create(second, SecondSize);
        return (image, second);
    }

    internal static byte[] RawOf(string image)
    {
        string raw = image + ".expected.raw";
        QemuTools.ConvertToRaw(image, raw);
        return File.ReadAllBytes(raw);
    }

    private static long RoundUp(long size) => (size + 4095) / 4096 * 4096;

    internal static ulong Fnv1a(ReadOnlySpan<byte> data)
    {
        ulong hash = 14695981039346656037;
        foreach (byte b in data)
        {
            hash = (hash ^ b) * 1099511628211;
        }

        return hash;
    }
}
