using Qcow2Mount.Core.Vfs;

namespace Qcow2Mount.Core.Hosting;

/// <summary>One live mount made by <see cref="IMountHost.Mount"/>. Disposing it unmounts what is still mounted.</summary>
public interface IMount : IDisposable
{
    /// <summary>Where it is mounted (on Windows the drive letter the platform picked).</summary>
    string MountPoint { get; }

    IVirtualFileSystem FileSystem { get; }

    /// <summary>True while the platform can still send requests: right after <see cref="Release"/>, whether something still holds the mount.</summary>
    bool IsServing { get; }

    /// <summary>
    /// Serves requests until the mount is unmounted (by the user, <c>unmount</c>, or <see cref="Release"/> once the last
    /// open file is closed) or <see cref="Stop"/>. Throws a <see cref="MountFailedException"/> when serving failed.
    /// </summary>
    void Serve();

    /// <summary>
    /// The first stop request: the mount point is freed at once; files still open keep being served where the platform
    /// allows it (FUSE: a lazy unmount), and <see cref="Serve"/> returns when the last is closed.
    /// </summary>
    void Release();

    /// <summary>Ends <see cref="Serve"/> now (after <see cref="Release"/> if that has not happened); requests still arriving fail.</summary>
    void Stop();
}
