namespace Qcow2Mount.Core.Platform;

/// <summary>
/// How a command the tools suggest (advise's convert line) quotes a word so the host's shell reads it back unchanged:
/// POSIX sh single quotes; on Windows double quotes, which cmd.exe and PowerShell both take (a Windows file name
/// cannot hold a double quote), and a backslash is an ordinary character that needs none.
/// </summary>
public sealed class ShellQuoting
{
    public static readonly ShellQuoting Posix = new(windows: false);

    public static readonly ShellQuoting Windows = new(windows: true);

    private const string Plain = "-_./=,:+@%";

    private readonly bool _windows;

    private ShellQuoting(bool windows)
    {
        _windows = windows;
    }

    /// <summary>The rules of the host this process runs on.</summary>
    public static ShellQuoting Current => OperatingSystem.IsWindows() ? Windows : Posix;

    public string Quote(string word)
    {
        bool plain = word.Length > 0 && word.All(c => char.IsAsciiLetterOrDigit(c) || Plain.Contains(c, StringComparison.Ordinal) || (_windows && c == '\\'));
        return plain ? word
            : _windows ? "\"" + word + "\""
            : "'" + word.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
    }
}
