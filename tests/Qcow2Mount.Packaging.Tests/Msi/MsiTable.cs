using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Packaging.Tests.Msi;

/// <summary>One table of a built MSI, read with <c>msiinfo export</c> (IDT text: column names, types, keys, then one row a line).</summary>
internal sealed class MsiTable
{
    private MsiTable(IReadOnlyList<string> columns, IReadOnlyList<IReadOnlyDictionary<string, string>> rows)
    {
        Columns = columns;
        Rows = rows;
    }

    public IReadOnlyList<string> Columns { get; }

    public IReadOnlyList<IReadOnlyDictionary<string, string>> Rows { get; }

    public static MsiTable Read(string msi, string table)
    {
        string text = ProcessRunner.Run("msiinfo", ["export", msi, table]).StandardOutput;
        string[] lines = text.Split('\n').Select(l => l.TrimEnd('\r')).ToArray();
        string[] columns = lines[0].Split('\t');
        var rows = lines.Skip(3)
            .Where(l => l.Length > 0)
            .Select(l => (IReadOnlyDictionary<string, string>)columns.Zip(l.Split('\t')).ToDictionary(p => p.First, p => p.Second))
            .ToArray();
        return new MsiTable(columns, rows);
    }

    /// <summary>The rows whose <paramref name="column"/> equals <paramref name="value"/>.</summary>
    public IEnumerable<IReadOnlyDictionary<string, string>> Where(string column, string value) =>
        Rows.Where(r => r[column] == value);

    /// <summary>The values of the Property table (or any two-column name/value table) as a dictionary.</summary>
    public IReadOnlyDictionary<string, string> AsMap() => Rows.ToDictionary(r => r[Columns[0]], r => r[Columns[1]]);
}
