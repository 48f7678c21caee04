using Qcow2Mount.Core.Qcow2;
using Qcow2Mount.Core.Storage;
using Qcow2Mount.Core.Tools;
using Qcow2Mount.TestSupport.Crash;

namespace Qcow2Mount.Core.Tests.Crash;

/// <summary>
/// Runs one crash workload: opens the work image (and its data file) through recording devices, and notes every
/// guest-visible change in the <see cref="GuestModel"/> before issuing it and every durable point after it returned.
/// </summary>
internal sealed class CrashSession
{
    private readonly string _image;
    private readonly string? _dataFile;
    private readonly int _imageLog;
    private readonly int _dataLog;

    public CrashSession(string image, string? dataFile, ImageOpenOptions options, StorageLog log, GuestModel model, Random random)
    {
        _image = image;
        _dataFile = dataFile;
        Options = options;
        Log = log;
        Model = model;
        Random = random;
        _imageLog = log.AddFile(image);
        _dataLog = dataFile is null ? -1 : log.AddFile(dataFile);
    }

    public ImageOpenOptions Options { get; }

    public StorageLog Log { get; }

    public GuestModel Model { get; }

    public Random Random { get; }

    /// <summary>Opens the work image read-write through the recording devices.</summary>
    public Qcow2Image Open()
    {
        var file = Log.Wrap(_imageLog, FileBlockDevice.Open(_image, readOnly: false));
        var data = _dataFile is null ? null : Log.Wrap(_dataLog, FileBlockDevice.Open(_dataFile, readOnly: false));
        return ImageOpener.Open(file, Options, backing: null, data);
    }

    public void Write(Qcow2Image disk, long offset, byte[] data)
    {
        Model.Write(offset, data);
        disk.Write(offset, data);
    }

    public void WriteCompressed(Qcow2Image disk, long offset, byte[] data)
    {
        Model.Write(offset, data);
        disk.WriteCompressed(offset, data);
    }

    public void WriteZeroes(Qcow2Image disk, long offset, long length, bool mayUnmap)
    {
        Model.Zero(offset, length);
        disk.WriteZeroes(offset, length, mayUnmap);
    }

    public void Discard(Qcow2Image disk, long offset, long length)
    {
        Model.Zero(offset, length);
        disk.Discard(offset, length);
    }

    public void Flush(Qcow2Image disk)
    {
        disk.Flush();
        MarkDurable("flush");
    }

    public void Close(Qcow2Image disk)
    {
        disk.Dispose();
        MarkDurable("close");
    }

    /// <summary>qemu-img resize (ImageResizer) on the work image; the caller has closed its disk.</summary>
    public void Resize(long newSize)
    {
        Model.Resize(newSize);
        ImageResizer.ResizeQcow2(Open, newSize, allowShrink: true);
        MarkDurable("resize");
    }

    /// <summary>What the call returned from promised: nothing it wrote may still be waiting for a sync.</summary>
    private void MarkDurable(string call)
    {
        for (int file = 0; file < Log.FileCount; file++)
        {
            var unsynced = Log.Unsynced(file);
            if (unsynced.Count > 0)
            {
                throw new InvalidOperationException($"{call} returned with {unsynced.Count} unsynced changes to {Path.GetFileName(Log.FileName(file))}: {string.Join(", ", unsynced.Take(5))}");
            }
        }

        Model.MarkDurable();
    }

    /// <summary>
    /// <paramref name="steps"/> steps, each one of <paramref name="choices"/> picked by weight, with a flush after every
    /// <paramref name="flushEvery"/> steps.
    /// </summary>
    public void Mix(Qcow2Image disk, int steps, int flushEvery, params (int Weight, Action Step)[] choices)
    {
        int total = choices.Sum(c => c.Weight);
        for (int i = 0; i < steps; i++)
        {
            int roll = Random.Next(total);
            foreach (var (weight, step) in choices)
            {
                if (roll < weight)
                {
                    step();
                    break;
                }

                roll -= weight;
            }

            if (i % flushEvery == flushEvery - 1)
            {
                Flush(disk);
            }
        }
    }

    /// <summary>Random data, 1 to <paramref name="maxSectors"/> sectors, at a random sector of the disk.</summary>
    public void RandomWrite(Qcow2Image disk, int maxSectors)
    {
        int length = Random.Next(1, maxSectors + 1) * 512;
        Write(disk, Offset(0, disk.Length, length, 512), Data(length));
    }

    /// <summary>A discard of 1 to <paramref name="maxUnits"/> units at a unit-aligned offset in [start, end) (default the whole disk).</summary>
    public void RandomDiscard(Qcow2Image disk, int unit, int maxUnits, long start = 0, long end = -1)
    {
        end = end < 0 ? disk.Length : end;
        long length = Random.Next(1, maxUnits + 1) * (long)unit;
        Discard(disk, Offset(start, end, Math.Min(length, end - start), unit), Math.Min(length, end - start));
    }

    /// <summary>A zero write of 1 to <paramref name="maxSectors"/> sectors, unmapping or not at random.</summary>
    public void RandomZero(Qcow2Image disk, int maxSectors)
    {
        int length = Random.Next(1, maxSectors + 1) * 512;
        WriteZeroes(disk, Offset(0, disk.Length, length, 512), length, mayUnmap: Random.Next(2) == 0);
    }

    /// <summary>Seeded bytes: random (incompressible) or, with <paramref name="compressible"/>, from a four-letter alphabet.</summary>
    public byte[] Data(int length, bool compressible = false)
    {
        var data = new byte[length];
        Random.NextBytes(data);
        if (compressible)
        {
            for (int i = 0; i < data.Length; i++)
            {
                data[i] = (byte)"ACGT"[data[i] & 3];
            }
        }

        return data;
    }

    /// <summary>A random offset, aligned to <paramref name="alignment"/>, such that <paramref name="length"/> bytes fit below <paramref name="end"/>.</summary>
    public long Offset(long start, long end, long length, long alignment = 1) =>
        start + (Random.NextInt64((end - start - length) / alignment + 1) * alignment);
}
