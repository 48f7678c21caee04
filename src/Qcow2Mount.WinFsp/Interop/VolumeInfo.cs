using System.Runtime.InteropServices;

namespace Qcow2Mount.WinFsp.Interop;

/// <summary>FSP_FSCTL_VOLUME_INFO: 88 bytes; the label is not NUL-terminated and its length is in bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct VolumeInfo
{
    public const int Size = 88;
    public const int LabelChars = 32;

    public ulong TotalSize;
    public ulong FreeSize;
    public ushort VolumeLabelLength;
    public fixed char VolumeLabel[LabelChars];

    /// <summary>Sets the label, cut to <see cref="LabelChars"/> characters.</summary>
    public void SetLabel(string label)
    {
        int length = Math.Min(label.Length, LabelChars);
        fixed (char* p = VolumeLabel)
        {
            label.AsSpan(0, length).CopyTo(new Span<char>(p, LabelChars));
        }

        VolumeLabelLength = (ushort)(length * sizeof(char));
    }

    public string Label()
    {
        fixed (char* p = VolumeLabel)
        {
            return new string(p, 0, VolumeLabelLength / sizeof(char));
        }
    }
}
