using Qcow2Mount.Core.Vfs;
using Qcow2Mount.Fuse;

namespace Qcow2Mount.Cli;

/// <summary>
/// Serves one mount in this process until it is unmounted (externally, by <c>qcow2mount unmount</c>, or by a
/// signal and the last open file closing), then flushes and closes the images. Exit code 0 when everything was flushed.
/// Everything that can fail happens before the mount (pid file, images, the caller's <c>beforeMount</c>), so a failure
/// never leaves a mount behind and the ready report cannot fail.
/// </summary>
internal static class MountServer
{
    /// <summary>
    /// <paramref name="beforeMount"/> runs after the images are open, just before mounting; <paramref name="onReady"/>
    /// once the kernel has completed INIT, i.e. the mount answers requests.
    /// </summary>
    public static int Serve(MountRequest request, Action<FuseHost> onReady, Action? beforeMount = null)
    {
        Action<string> log = message => Console.Error.WriteLine($"qcow2mount: {message}");
        MountPreflight.Check(request);
        using var stop = new MountStopSignal(log);
        using var pidFile = MountPidFile.Write(request.MountPoint);
        var images = ImageDirectory.Open(request.Images, request.Format, request.ImageOptions, caseSensitiveNames: true);
        FuseHost host;
        try
        {
            var fileSystem = new FuseFileSystem(images, log);
            beforeMount?.Invoke();
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
            throw new MountFailedException($"{request.MountPoint}: serving the mount failed ({System.Runtime.InteropServices.Marshal.GetPInvokeErrorMessage(-result)})");
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
