using System.Text.RegularExpressions;
using Qcow2Mount.Core;
using Qcow2Mount.Core.Errors;
using Qcow2Mount.Core.Qcow2;
using Qcow2Mount.Core.Storage;

namespace Qcow2Mount.Fuzz;

/// <summary>
/// One fuzzing execution: the input bytes as an image file in memory (never a path, so a hostile backing or data
/// file name opens nothing), opened read-write and driven through read, write, zero, discard, block status and
/// flush, then opened read-only and read. Expected failures are <see cref="Qcow2Exception"/>s (and the in-memory
/// device refusing to grow past <see cref="MaxDeviceBytes"/>). Anything else — including a write attempt on the
/// read-only open — is a <see cref="FuzzFindingException"/>. The operations come from a PRNG seeded by the input, so one
/// input always runs the same way.
/// </summary>
public static partial class FuzzTarget
{
    /// <summary>How large the in-memory image may grow (a hostile image may legitimately ask for far more).</summary>
    public const long MaxDeviceBytes = 64L << 20;

    private const int OperationsPerOpen = 12;
    private const int MaxIoBytes = 256 * 1024;

    /// <summary>
    /// Runs one input; returns its outcome signature (the set of distinct failures met, numbers blanked: a cheap
    /// stand-in for coverage); throws <see cref="FuzzFindingException"/>.
    /// </summary>
    public static string Run(byte[] input)
    {
        int seed = Fnv(input);
        var outcomes = new SortedSet<string>(StringComparer.Ordinal);
        RunReadWrite(input, new Random(seed), outcomes);
        RunReadOnly(input, new Random(seed), outcomes);
        return string.Join(" | ", outcomes);
    }

    private static void RunReadWrite(byte[] input, Random rng, SortedSet<string> outcomes)
    {
        var device = new MemoryBlockDevice(input, readOnly: false, name: "fuzz") { MaxLength = MaxDeviceBytes };
        var options = new ImageOpenOptions { CacheSize = rng.Next(2) == 0 ? 0 : 256 * 1024, L2CacheEntrySize = rng.Next(4) == 0 ? 512 : 0 };
        Qcow2Image image;
        try
        {
            image = Qcow2Image.Open(device, options);
        }
        catch (Exception e)
        {
            outcomes.Add("open " + Classify(e, readOnly: false));
            return;
        }

        outcomes.Add("opened");
        try
        {
            var buffer = new byte[MaxIoBytes];
            for (int i = 0; i < OperationsPerOpen; i++)
            {
                var (offset, length) = PickRange(image, rng);
                int op = rng.Next(10);
                try
                {
                    switch (op)
                    {
                        case 0:
                        case 1:
                            image.Read(offset, buffer.AsSpan(0, (int)length));
                            break;
                        case 2:
                        case 3:
                            rng.NextBytes(buffer.AsSpan(0, (int)length));
                            image.Write(offset, buffer.AsSpan(0, (int)length));
                            break;
                        case 4:
                            image.WriteZeroes(offset, length, mayUnmap: rng.Next(2) == 0);
                            break;
                        case 5:
                            image.Discard(offset, length);
                            break;
                        case 6:
                            image.GetBlockStatus(offset, length);
                            break;
                        case 7:
                            image.Flush();
                            break;
                        default:
                            image.Read(offset, buffer.AsSpan(0, (int)length));
                            break;
                    }

                }
                catch (Exception e)
                {
                    outcomes.Add(Classify(e, readOnly: false));
                }
            }
        }
        finally
        {
            try
            {
                image.Dispose();
            }
            catch (Exception e)
            {
                outcomes.Add("dispose:" + Classify(e, readOnly: false));
            }
        }
    }

    private static void RunReadOnly(byte[] input, Random rng, SortedSet<string> outcomes)
    {
        var device = new MemoryBlockDevice(input, readOnly: true, name: "fuzz");
        Qcow2Image image;
        try
        {
            image = Qcow2Image.Open(device, new ImageOpenOptions { ReadOnly = true });
        }
        catch (Exception e)
        {
            outcomes.Add("ro open " + Classify(e, readOnly: true));
            return;
        }

        using (image)
        {
            var buffer = new byte[MaxIoBytes];
            for (int i = 0; i < OperationsPerOpen / 2; i++)
            {
                var (offset, length) = PickRange(image, rng);
                try
                {
                    if (rng.Next(3) == 0)
                    {
                        image.GetBlockStatus(offset, length);
                    }
                    else
                    {
                        image.Read(offset, buffer.AsSpan(0, (int)length));
                    }
                }
                catch (Exception e)
                {
                    outcomes.Add("ro:" + Classify(e, readOnly: true));
                }
            }
        }

        if (device.WriteCount != 0)
        {
            throw new FuzzFindingException("a read-only open wrote to the image", null);
        }
    }

    /// <summary>Mostly the first clusters (where the seeds hold data), sometimes anywhere in a huge disk.</summary>
    private static (long Offset, long Length) PickRange(Qcow2Image image, Random rng)
    {
        long size = image.Length;
        if (size <= 0)
        {
            return (0, 0);
        }

        int cluster = image.Geometry.ClusterSize;
        long offset = rng.Next(4) switch
        {
            0 => rng.NextInt64(0, size),
            1 => Math.Min(size - 1, (long)rng.Next(64) * cluster),
            _ => Math.Min(size - 1, ((long)rng.Next(64) * cluster) + rng.Next(cluster)),
        };
        long length = Math.Min(size - offset, rng.Next(3) switch
        {
            0 => rng.Next(1, 513),
            1 => cluster,
            _ => rng.Next(1, MaxIoBytes + 1),
        });
        return (offset, Math.Min(length, MaxIoBytes));
    }

    /// <summary>The outcome of an expected failure, numbers blanked; an unexpected exception is a finding.</summary>
    private static string Classify(Exception e, bool readOnly)
    {
        switch (e)
        {
            case ReadOnlyImageException when readOnly:
                throw new FuzzFindingException("a read-only open tried to write", e);
            case Qcow2Exception:
                return e.GetType().Name + ":" + Numbers().Replace(e.Message.Replace("fuzz: ", "", StringComparison.Ordinal), "#");
            case IOException when e.Message.Contains("limit of the in-memory device", StringComparison.Ordinal):
                return "device-limit";
            default:
                throw new FuzzFindingException($"unexpected {e.GetType().Name}: {e.Message}", e);
        }
    }

    private static int Fnv(byte[] data)
    {
        uint h = 2166136261;
        foreach (byte b in data)
        {
            h = (h ^ b) * 16777619;
        }

        return (int)h;
    }

    [GeneratedRegex("(0x)?[0-9a-fA-F]*[0-9][0-9a-fA-F]*")]
    private static partial Regex Numbers();
}
