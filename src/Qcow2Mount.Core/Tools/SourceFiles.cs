using Qcow2Mount.Core.Qcow2;
using Qcow2Mount.Core.Storage;
using Qcow2Mount.Core.Qcow2.Metadata;

namespace Qcow2Mount.Core.Tools;

/// <summary>
/// Every file reading an image opens — the image, its external data file, and the same for each backing layer,
/// resolved as the engine resolves them (<see cref="BackingChain"/>) — as files a conversion must not overwrite.
/// Called after the source opened, so the chain is known to be well-formed; the walk is bounded all the same.
/// </summary>
internal static class SourceFiles
{
    public static ProtectedFiles Of(string path, string format)
    {
        var files = new ProtectedFiles().Add(path, "the source image");
        string? current = format == "qcow2" ? path : null;
        for (int depth = 0; current is not null && depth <= BackingChain.MaxDepth; depth++)
        {
            Qcow2.Format.Qcow2Header header;
            using (var file = FileBlockDevice.Open(current, readOnly: true))
            {
                header = HeaderStore.Read(file);
            }

            if (header.HasExternalDataFile && header.ExternalDataFile is { } data)
            {
                files.Add(BackingChain.ResolveDataFile(data), depth == 0 ? "the source's external data file" : "the external data file of a backing file of the source");
            }

            if (header.BackingFile is not { } name)
            {
                break;
            }

            string next = ImagePath.Resolve(current, name);
            files.Add(next, "a backing file of the source");
            current = (header.BackingFormat ?? DiskImage.ProbeFormat(next)) == "qcow2" ? next : null;
        }

        return files;
    }
}
