using System.Runtime.CompilerServices;

namespace Qcow2Mount.Fuse.Interop;

/// <summary>glibc's <c>sigset_t</c>: 1024 bits, signal N at bit N − 1.</summary>
[InlineArray(16)]
internal struct SigSet
{
    private ulong _word;

    public static SigSet Of(params ReadOnlySpan<int> signals)
    {
        var set = default(SigSet);
        foreach (int signal in signals)
        {
            set[(signal - 1) / 64] |= 1UL << ((signal - 1) % 64);
        }

        return set;
    }
}
