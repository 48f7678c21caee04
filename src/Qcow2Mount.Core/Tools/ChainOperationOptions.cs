namespace Qcow2Mount.Core.Tools;

/// <summary>How <see cref="ImageCommitter"/> and <see cref="ImageRebaser"/> run (qemu-img commit's and rebase's options).</summary>
public sealed record ChainOperationOptions
{
    /// <summary>Format of the image: qcow2, raw, or null to probe.</summary>
    public string? Format { get; init; }

    /// <summary>
    /// commit: the image of the backing chain to commit into (qemu-img's -b BASE), null for the direct backing file.
    /// rebase: the new backing file name as written into the header; "" for none.
    /// </summary>
    public string? Backing { get; init; }

    /// <summary>rebase: the new backing file's format (qemu-img's -F).</summary>
    public string? BackingFormat { get; init; }

    /// <summary>commit: keep the overlay's data (qemu-img's -d; implied by -b).</summary>
    public bool KeepOverlay { get; init; }

    /// <summary>rebase: only rewrite the header, copy nothing (qemu-img's -u, unsafe mode).</summary>
    public bool Unsafe { get; init; }

    /// <summary>Called with the fraction done (0..1) as the operation advances.</summary>
    public Action<double>? Progress { get; init; }

    /// <summary>Stops the copy between two pieces (throws <see cref="OperationCanceledException"/>), every image valid.</summary>
    public CancellationToken Cancellation { get; init; }
}
