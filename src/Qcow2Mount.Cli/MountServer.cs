using Qcow2Mount.Fuse;

namespace Qcow2Mount.Cli;

/// <summary>
/// Serves one mount in this process until it is unmounted (externally, by <c>qcow2mount unmount</c>, or by a
/// signal), then flushes and closes the images. Exit code 0 when everything was flushed. The pid file is written
/// before the mount, so a failure to write it never leaves a mount behind.
/// </summary>
internal static class MountServer
{
    /// <summary><paramref name="onReady"/> runs once the kernel has completed INIT, i.e. the mount answers requests.</summary>
    public static int Serve(MountRequest request, Action<FuseHost> onReady)
    {
        Action<string> log = message => Console.Error.WriteLine($"qcow2mount: {message}");
        MountPreflight.Check(request);
        using var stop = new MountStopSignal();
        using var pidFile = MountPidFile.Write(request.MountPoint);
        var images = MountedImages.Open(request);
        FuseHost host;
        try
        {
            var fileSystem = new ImageFileSystem(images.Directory, request.ReadOnly, log);
            host = FuseHost.Mount(fileSystem, Settings(request), onReady);
        }
        catch
        {
            images.Dispose();
            throw;
        }

        int result;
        bool flushed;
        try
        {
            stop.Attach(host);
            result = host.Run();
        }
        finally
        {
            host.Dispose();
            flushed = images.Close(log);
        }

        if (result != 0)
        {
            throw new MountFailedException($"{request.MountPoint}: the FUSE loop failed ({result})");
        }

        return flushed ? 0 : 2;
    }

    private static FuseMountSettings Settings(MountRequest request) => new()
    {
        MountPoint = request.MountPoint,
        FsName = request.Images[0],
        ReadOnly = request.ReadOnly,
        Options = request.FuseOptions,
        MaxThreads = request.MaxThreads,
        LibraryPath = request.LibfusePath,
    };
}
