using System.Globalization;

namespace Qcow2Mount.Core.Tools.Advise;

/// <summary>Byte counts for people ("64 KiB", "1.25 MiB") and for qemu-img option values ("64k", "2M").</summary>
public static class ByteSize
{
    private static readonly string[] Units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];

    /// <summary>Binary units, exact when the value is a whole number of them, else three significant digits.</summary>
    public static string Human(long bytes)
    {
        int unit = 0;
        double value = bytes;
        while (unit < Units.Length - 1 && Math.Abs(value) >= 1024)
        {
            value /= 1024;
            unit++;
        }

        string number = value == Math.Floor(value) ? value.ToString("0", CultureInfo.InvariantCulture) : value.ToString("G3", CultureInfo.InvariantCulture);
        return $"{number} {Units[unit]}";
    }

    /// <summary>A power-of-two size as a qemu-img option value: 512, 64k, 2M.</summary>
    public static string Option(long bytes) =>
        bytes % (1 << 20) == 0 ? $"{bytes >> 20}M" : bytes % 1024 == 0 ? $"{bytes >> 10}k" : bytes.ToString(CultureInfo.InvariantCulture);

    /// <summary>"12.5%" of a share in 0..1.</summary>
    public static string Percent(double share) => (share * 100).ToString(share is > 0 and < 0.001 ? "G2" : "0.#", CultureInfo.InvariantCulture) + "%";
}
