using Qcow2Mount.Core.Hosting;
using Qcow2Mount.Core.Vfs;

namespace Qcow2Mount.Cli.Mount;

/// <summary>
/// Serves one mount in this process until it is unmounted (externally, by <c>qcow2mount unmount</c>, or by a signal and
/// the last open file closing), then flushes and closes the images. Exit code 0 when everything was flushed.
/// Everything that can fail happens before the mount (the server's registration, images, the caller's
/// <c>beforeMount</c>), so a failure never leaves a mount behind and the ready report cannot fail.
/// </summary>
internal static class MountServer
{
    /// <summary>
    /// <paramref name="beforeMount"/> runs after the images are open, just before mounting; <paramref name="onReady"/>
    /// once the platform serves requests.
    /// </summary>
    public static int Serve(IMountHost host, MountRequest request, Action<IMount> onReady, Action? beforeMount = null)
    {
        Action<string> log = message => Console.Error.WriteLine($"qcow2mount: {message}");
        Check(host, request);
        using var stop = new MountStopSignal(log);
        using var serving = host.BeginServing(request.Spec);
        var images = ImageDirectory.Open(request.Images, request.Format, request.ImageOptions, host.CaseSensitiveNames, request.Vhd, request.Snapshots);
        IMount mount;
        try
        {
            beforeMount?.Invoke();
            mount = host.Mount(images, request.Spec, onReady, log);
        }
        catch
        {
            images.Dispose();
            throw;
        }

        bool flushed;
        try
        {
            stop.Attach(mount);
            mount.Serve();
        }
        finally
        {
            mount.Dispose();
            flushed = images.Close(log);
        }

        return flushed ? 0 : 2;
    }

    /// <summary>What can be checked before an image is opened: the platform's part, then the images.</summary>
    public static void Check(IMountHost host, MountRequest request)
    {
        host.Check(request.Spec);
        foreach (string image in request.Images)
        {
            if (Directory.Exists(image))
            {
                throw new MountFailedException($"{image}: is a directory, not an image file");
            }

            if (!File.Exists(image))
            {
                throw new MountFailedException($"{image}: no such image file");
            }
        }
    }
}
