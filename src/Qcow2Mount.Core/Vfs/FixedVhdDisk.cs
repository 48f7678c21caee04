using Qcow2Mount.Core.Errors;

namespace Qcow2Mount.Core.Vfs;

/// <summary>
/// A disk seen as a fixed VHD: its bytes, then a <see cref="VhdFooter"/>. Reads and writes of the disk part go to the
/// disk; the footer reads as built and refuses any write that would change it (rewriting the same bytes succeeds, as
/// a tool that updates a footer it did not change expects). Does not own the disk: the raw file of the same image
/// does, so disposing this does nothing.
/// </summary>
public sealed class FixedVhdDisk : IVirtualDisk
{
    private readonly IVirtualDisk _disk;
    private readonly byte[] _footer;
    private readonly string _name;

    /// <param name="name">For messages: the file it is shown as.</param>
    public FixedVhdDisk(IVirtualDisk disk, string imagePath, string name)
    {
        _disk = disk;
        _name = name;
        _footer = VhdFooter.Build(disk.Length, imagePath);
    }

    /// <summary>Where the footer starts: the disk's size.</summary>
    public long FooterOffset => _disk.Length;

    public ReadOnlySpan<byte> Footer => _footer;

    public long Length => _disk.Length + VhdFooter.Size;

    public bool IsReadOnly => _disk.IsReadOnly;

    public int Read(long offset, Span<byte> buffer)
    {
        if (offset < FooterOffset)
        {
            return _disk.Read(offset, buffer[..(int)Math.Min(buffer.Length, FooterOffset - offset)]);
        }

        if (offset >= Length)
        {
            return 0;
        }

        var footer = _footer.AsSpan((int)(offset - FooterOffset));
        int count = Math.Min(buffer.Length, footer.Length);
        footer[..count].CopyTo(buffer);
        return count;
    }

    public void Write(long offset, ReadOnlySpan<byte> data)
    {
        CheckFooterUnchanged(offset, data);
        if (offset < FooterOffset)
        {
            _disk.Write(offset, data[..(int)Math.Min(data.Length, FooterOffset - offset)]);
        }
    }

    /// <summary>Zeroing is for the disk part only (the footer has non-zero bytes).</summary>
    public void WriteZeroes(long offset, long length, bool mayUnmap)
    {
        if (offset + length > FooterOffset)
        {
            throw new ReadOnlyRegionException(_name, Math.Max(offset, FooterOffset), FooterOffset);
        }

        _disk.WriteZeroes(offset, length, mayUnmap);
    }

    /// <summary>A discard is a hint: the part that falls on the footer is dropped.</summary>
    public void Discard(long offset, long length)
    {
        long end = Math.Min(offset + length, FooterOffset);
        if (end > offset)
        {
            _disk.Discard(offset, end - offset);
        }
    }

    public void Flush() => _disk.Flush();

    /// <summary>The disk's block status; the footer is data.</summary>
    public BlockStatus GetBlockStatus(long offset, long maxLength) =>
        offset < FooterOffset
            ? _disk.GetBlockStatus(offset, Math.Min(maxLength, FooterOffset - offset))
            : new BlockStatus(Math.Min(maxLength, Length - offset), BlockStatusFlags.Allocated | BlockStatusFlags.Data);

    /// <summary>Nothing: the disk belongs to the raw file of the same image.</summary>
    public void Dispose()
    {
    }

    private void CheckFooterUnchanged(long offset, ReadOnlySpan<byte> data)
    {
        long end = offset + data.Length;
        if (end <= FooterOffset)
        {
            return;
        }

        long from = Math.Max(offset, FooterOffset);
        var written = data[(int)(from - offset)..];
        var footer = _footer.AsSpan((int)(from - FooterOffset));
        if (written.Length > footer.Length || !written.SequenceEqual(footer[..written.Length]))
        {
            throw new ReadOnlyRegionException(_name, from, FooterOffset);
        }
    }
}
