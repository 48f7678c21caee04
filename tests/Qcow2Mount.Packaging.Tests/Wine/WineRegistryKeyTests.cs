using Qcow2Mount.TestSupport.Wine;

namespace Qcow2Mount.Packaging.Tests.Wine;

/// <summary>Parsing <c>reg query</c> output (Wine 8.0's format: key line, values indented by four spaces, subkey lines).</summary>
[TestFixture]
internal sealed class WineRegistryKeyTests
{
    [Test]
    public void Parse_ValuesDefaultEmptyDataAndSubkeys_ReadsEach()
    {
        const string output = "\r\nHKEY_CLASSES_ROOT\\Qcow2Mount.Image\r\n    (Default)    REG_SZ    QEMU disk image\r\n"
            + "    Empty    REG_SZ    \r\n    Flags    REG_DWORD    0x1\r\n    Spaced    REG_SZ    a  b    c\r\n\r\n"
            + "HKEY_CLASSES_ROOT\\Qcow2Mount.Image\\DefaultIcon\r\nHKEY_CLASSES_ROOT\\Qcow2Mount.Image\\shell\r\n";

        var key = WineRegistryKey.Parse(@"HKCR\Qcow2Mount.Image", output);

        Assert.Multiple(() =>
        {
            Assert.That(key[""], Is.EqualTo("QEMU disk image"));
            Assert.That(key["empty"], Is.Empty, "names compare case-insensitively, as in Windows");
            Assert.That(key.Values.Single(v => v.Name == "Flags"), Is.EqualTo(new WineRegistryValue("Flags", "REG_DWORD", "0x1")));
            Assert.That(key["Spaced"], Is.EqualTo("a  b    c"));
            Assert.That(key["Missing"], Is.Null);
            Assert.That(key.Subkeys, Is.EqualTo(new[] { @"HKEY_CLASSES_ROOT\Qcow2Mount.Image\DefaultIcon", @"HKEY_CLASSES_ROOT\Qcow2Mount.Image\shell" }));
        });
    }

    [Test]
    public void Parse_KeyWithoutValues_ListsOnlyItsSubkeys()
    {
        // Wine prints no line for the key itself when it has no values.
        const string output = "\r\nHKEY_LOCAL_MACHINE\\SOFTWARE\\T\\One\r\nHKEY_LOCAL_MACHINE\\SOFTWARE\\T\\Two\r\n";

        var key = WineRegistryKey.Parse(@"HKLM\SOFTWARE\T", output);

        Assert.Multiple(() =>
        {
            Assert.That(key.Values, Is.Empty);
            Assert.That(key.Subkeys, Is.EqualTo(new[] { @"HKEY_LOCAL_MACHINE\SOFTWARE\T\One", @"HKEY_LOCAL_MACHINE\SOFTWARE\T\Two" }));
        });
    }
}
