namespace Qcow2Mount.Core.Tools.Advise;

/// <summary>
/// What <see cref="ImageAdvisor"/> concludes for one image: the facts it read, whether converting pays off, the
/// layout to convert to (extended L2 and cluster size), the reasons with their numbers, the candidates' costs, and
/// the exact convert command (null when the advice is to keep the image).
/// </summary>
public sealed record Advice
{
    public required string Filename { get; init; }

    public required AllocationProfile Profile { get; init; }

    public GuestFileSystem? FileSystem { get; init; }

    /// <summary>The guest's write size the recommendation is built on, and where it came from.</summary>
    public required int GuestBlockSize { get; init; }

    public required string GuestBlockSource { get; init; }

    /// <summary>Whether extended L2 entries would help this image at all.</summary>
    public required bool GainsFromExtendedL2 { get; init; }

    public required bool Convert { get; init; }

    public required int ClusterSize { get; init; }

    public required bool ExtendedL2 { get; init; }

    /// <summary>One line per rule that decided the advice, with its numbers.</summary>
    public required IReadOnlyList<string> Reasons { get; init; }

    public required IReadOnlyList<AdviceCandidate> Candidates { get; init; }

    /// <summary>The convert command line, or null when the advice is to keep the image.</summary>
    public string? Command { get; init; }

    /// <summary>For an overlay: how to keep the backing file (convert flattens the chain).</summary>
    public string? OverlayCommand { get; init; }
}
