using Qcow2Mount.Fuse.Hosting;

namespace Qcow2Mount.Fuse.Tests;

/// <summary><see cref="MountTable.MountIdOf"/> against the mount IDs that /proc/self/mountinfo lists first on each line.</summary>
[Category(TestCategories.Unit)]
public sealed class MountTableTests
{
    /// <summary>The ID of the topmost mount at <paramref name="mountPoint"/>, read from mountinfo by hand.</summary>
    private static ulong MountInfoId(string mountPoint) => ulong.Parse(
        File.ReadLines("/proc/self/mountinfo").Select(line => line.Split(' ')).Last(f => f[4] == mountPoint)[0],
        System.Globalization.CultureInfo.InvariantCulture);

    [TestCase("/")]
    [TestCase("/proc")]
    public void MountIdOf_AMountPoint_TheIdMountinfoGivesIt(string mountPoint) =>
        Assert.That(MountTable.MountIdOf(mountPoint), Is.EqualTo(MountInfoId(mountPoint)));

    [Test]
    public void MountIdOf_APathInsideAMount_ThatMountsId() =>
        Assert.That(MountTable.MountIdOf("/proc/self/mountinfo"), Is.EqualTo(MountInfoId("/proc")));

    [Test]
    public void MountIdOf_NoSuchPath_Null() =>
        Assert.That(MountTable.MountIdOf("/no/such/path/for/qcow2mount"), Is.Null);
}
