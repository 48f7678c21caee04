using Qcow2Mount.Core.Storage;

namespace Qcow2Mount.Core.Qcow2;

/// <summary>A qcow2 image as a virtual disk: the engine. (API fixed; body being written.)</summary>
public sealed class Qcow2Image : IVirtualDisk
{
    private Qcow2Image()
    {
    }

    public Qcow2Statistics Statistics { get; } = new();

    public long Length => throw new NotImplementedException();

    public bool IsReadOnly => throw new NotImplementedException();

    public static Qcow2Image Open(string path, ImageOpenOptions? options = null) => throw new NotImplementedException();

    /// <summary>Opens an image held by <paramref name="file"/>; <paramref name="backing"/> overrides the chain (for tests and the fuzzer).</summary>
    public static Qcow2Image Open(IBlockDevice file, ImageOpenOptions options, IVirtualDisk? backing = null) => throw new NotImplementedException();

    public int Read(long offset, Span<byte> buffer) => throw new NotImplementedException();

    public void Write(long offset, ReadOnlySpan<byte> data) => throw new NotImplementedException();

    public void WriteZeroes(long offset, long length, bool mayUnmap) => throw new NotImplementedException();

    public void Discard(long offset, long length) => throw new NotImplementedException();

    public void Flush() => throw new NotImplementedException();

    public BlockStatus GetBlockStatus(long offset, long maxLength) => throw new NotImplementedException();

    public void Dispose()
    {
    }
}
