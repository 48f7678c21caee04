using Qcow2Mount.Core.Qcow2;

namespace Qcow2Mount.Core.Tools;

/// <summary>Path rules the tools share with the engine (one implementation: <see cref="BackingChain"/>).</summary>
public static class ImagePath
{
    /// <summary>A backing file name as an image names it: relative names resolve against the image's directory.</summary>
    public static string Resolve(string image, string name) => BackingChain.Resolve(image, name);
}
