namespace Qcow2Mount.Core.Tools;

/// <summary>How <see cref="ImageComparer"/> runs (qemu-img compare's -f, -F, -s, -U and -p).</summary>
public sealed record CompareOptions
{
    /// <summary>Format of the first image: qcow2, raw, or null to probe.</summary>
    public string? FirstFormat { get; init; }

    /// <summary>Format of the second image: qcow2, raw, or null to probe.</summary>
    public string? SecondFormat { get; init; }

    /// <summary>Strict mode: different sizes or any block-status difference make the images differ.</summary>
    public bool Strict { get; init; }

    /// <summary>Take QEMU-compatible read locks (false = qemu-img's -U, force share).</summary>
    public bool Lock { get; init; } = true;

    /// <summary>Called with the fraction done (0..1) as the compare advances.</summary>
    public Action<double>? Progress { get; init; }

    /// <summary>Stops the compare between two chunks (throws <see cref="OperationCanceledException"/>).</summary>
    public CancellationToken Cancellation { get; init; }
}
