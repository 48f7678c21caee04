namespace Qcow2Mount.Core.Vfs;

/// <summary>
/// Times a user sets (touch, cp -p, SetFileTime); null leaves one as it is. <see cref="StampChange"/> is where the
/// platforms differ: POSIX makes setting times a change of the inode (the change time becomes now unless given),
/// Windows leaves ChangeTime to the caller.
/// </summary>
public readonly record struct TimesUpdate(
    DateTime? Created = null, DateTime? Accessed = null, DateTime? Modified = null, DateTime? Changed = null, bool StampChange = false);
