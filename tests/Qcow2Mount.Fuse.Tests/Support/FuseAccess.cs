namespace Qcow2Mount.Fuse.Tests.Support;

/// <summary>
/// Gives the group <see cref="TestUser.FuseGroup"/> (and nobody else but root) read-write access to /dev/fuse:
/// group qcow2mount-fuse, mode 0660. Dispose puts back the owner, group and mode the device had. Root's tests are not
/// affected; other users lose access they may have had (Debian's usual mode is 0666) until Dispose.
/// </summary>
internal sealed class FuseAccess : IDisposable
{
    private const string Device = "/dev/fuse";

    private readonly string _ownerGroup;
    private readonly string _mode;

    private FuseAccess(string ownerGroup, string mode)
    {
        _ownerGroup = ownerGroup;
        _mode = mode;
    }

    public static FuseAccess Grant()
    {
        _ = TestUser.Mounter; // creates the group and its member
        string[] before = ProcessRunner.Output("stat", "-c", "%u:%g %a", Device).Trim().Split(' ');
        var access = new FuseAccess(before[0], before[1]);
        ProcessRunner.Output("chgrp", TestUser.FuseGroup, Device);
        ProcessRunner.Output("chmod", "0660", Device);
        return access;
    }

    public void Dispose()
    {
        ProcessRunner.Capture("chown", _ownerGroup, Device);
        ProcessRunner.Capture("chmod", _mode, Device);
    }
}
