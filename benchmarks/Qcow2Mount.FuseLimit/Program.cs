using System.Runtime.InteropServices;
using Qcow2Mount.Core.Vfs;
using Qcow2Mount.Fuse;
using Qcow2Mount.Fuse.Uring;
using Qcow2Mount.FuseLimit;

// The "FUSE limit" of scripts/bench.sh: our own FUSE request loop (FuseHost, FuseRequestHandler) serving a disk that
// does nothing, so a fio job against it measures the kernel's FUSE round trip plus our protocol code and nothing else.
const string Usage = """
    usage: Qcow2Mount.FuseLimit MOUNTDIR [--size SIZE] [--threads N] [--transport auto|devfuse]
                                [--uring-threads N] [--uring-entries N] [--uring-pin]

    Mounts MOUNTDIR holding one file, disk.raw, of SIZE bytes (default 4G; suffixes k, M, G, T) served by
    qcow2mount's own FUSE loop over a null disk: reads return zeros, writes are dropped, flush does nothing.
    --threads N       /dev/fuse workers (default: qcow2mount's, 10)
    --transport auto  FUSE over io_uring when the kernel offers it (enable_uring=Y), else /dev/fuse (default)
    --transport devfuse  always /dev/fuse reads and writes
    --uring-threads N, --uring-entries N, --uring-pin
                      io_uring layout: threads per FUSE queue (one queue per CPU), entries per thread, pin queue N's
                      threads to CPU N (defaults: qcow2mount's)
    Runs in the foreground until SIGTERM, SIGINT or an unmount. Needs root (or fusermount3) and /dev/fuse.
    """;

string? mountPoint = null;
long size = 4L << 30;
uint threads = new FuseMountSettings { MountPoint = "", FsName = "" }.MaxThreads;
bool ioUring = true;
var uring = new FuseUringOptions();
try
{
    for (int i = 0; i < args.Length; i++)
    {
        switch (args[i])
        {
            case "-h" or "--help":
                Console.WriteLine(Usage);
                return 0;
            case "--size":
                size = Sizes.Parse(Value(args, ref i));
                break;
            case "--threads":
                threads = uint.Parse(Value(args, ref i), System.Globalization.CultureInfo.InvariantCulture);
                break;
            case "--transport":
                ioUring = Value(args, ref i) switch
                {
                    "auto" => true,
                    "devfuse" => false,
                    var other => throw new FormatException($"unknown transport '{other}'"),
                };
                break;
            case "--uring-threads":
                uring = uring with { ThreadsPerQueue = int.Parse(Value(args, ref i), System.Globalization.CultureInfo.InvariantCulture) };
                break;
            case "--uring-entries":
                uring = uring with { EntriesPerThread = int.Parse(Value(args, ref i), System.Globalization.CultureInfo.InvariantCulture) };
                break;
            case "--uring-pin":
                uring = uring with { PinQueues = true };
                break;
            case var a when a.StartsWith('-'):
                throw new FormatException($"unknown option '{a}'");
            default:
                mountPoint = mountPoint is null ? Path.GetFullPath(args[i]) : throw new FormatException("more than one MOUNTDIR");
                break;
        }
    }

    if (mountPoint is null || size <= 0 || threads == 0 || uring.ThreadsPerQueue <= 0 || uring.EntriesPerThread <= 0)
    {
        throw new FormatException("expected MOUNTDIR, a positive --size and --threads");
    }
}
catch (Exception e) when (e is FormatException or OverflowException)
{
    Console.Error.WriteLine($"fuse-limit: {e.Message}\n{Usage}");
    return 2;
}

Action<string> log = message => Console.Error.WriteLine($"fuse-limit: {message}");
using var directory = new ImageDirectory(caseSensitiveNames: true, readOnly: false);
directory.Add("disk.qcow2", new NullDisk(size)); // shown as disk.raw
var fileSystem = new FuseFileSystem(directory, log);
var settings = new FuseMountSettings { MountPoint = mountPoint, FsName = "fuse-limit", MaxThreads = threads, IoUring = ioUring ? uring : null };
using var host = FuseHost.Mount(fileSystem, settings, _ => log($"serving {Path.Combine(mountPoint, "disk.raw")} ({size} bytes)"));
using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
int result = host.Run();
log(host.Uring?.Active == true ? $"{host.Uring.Served} requests answered over io_uring" : "requests answered over /dev/fuse");
if (result != 0)
{
    log($"the FUSE loop failed ({result})");
    return 1;
}

return 0;

void Stop(PosixSignalContext context)
{
    context.Cancel = true;
    host.Stop();
}

static string Value(string[] args, ref int i) =>
    ++i < args.Length ? args[i] : throw new FormatException($"{args[i - 1]} needs a value");
