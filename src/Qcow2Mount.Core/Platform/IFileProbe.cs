using Microsoft.Win32.SafeHandles;
using Qcow2Mount.Core.Storage;

namespace Qcow2Mount.Core.Platform;

/// <summary>What a path or an open file is: its identity (device and inode, volume and file index), its kind, and whether it is kernel state.</summary>
internal interface IFileProbe
{
    /// <summary>The file <paramref name="path"/> names (links followed), or null when it does not exist.</summary>
    FileIdentity? Identity(string path);

    /// <summary>The file <paramref name="file"/> has open (<paramref name="path"/> is what it was opened as).</summary>
    FileIdentity Identity(SafeFileHandle file, string path);

    /// <summary>What kind of file <paramref name="path"/> names (links followed, as opening would).</summary>
    FileKind.Kind KindOf(string path);

    /// <summary>The kernel pseudo file system <paramref name="path"/> lives on ("procfs", …), or null for an ordinary one.</summary>
    string? PseudoFileSystemOf(string path);
}
