using System.Text.RegularExpressions;

namespace Qcow2Mount.TestSupport.Wine;

/// <summary>
/// Reads Wine's <c>WINEDEBUG=+process</c> trace (on stderr): the command line of every process Wine created, e.g. the one
/// a shell association (<c>start FILE</c>) ran.
/// </summary>
public static partial class WineProcessTrace
{
    /// <summary>The WINEDEBUG value that makes Wine trace process creation and nothing else.</summary>
    public const string Channel = "-all,+process";

    /// <summary>Every <c>CreateProcessInternalW ... cmdline L"..."</c> command line in <paramref name="trace"/>, unescaped.</summary>
    public static IReadOnlyList<string> CommandLines(string trace) =>
        CreateProcessLine().Matches(trace).Select(m => Unescape(m.Groups[1].Value)).ToArray();

    // Wine's debugstr_w: backslash and quote are escaped with a backslash, control and non-ASCII characters as \n, \xNNNN.
    private static string Unescape(string s) =>
        EscapeSequence().Replace(s, m => m.Value[1] switch
        {
            'n' => "\n",
            'r' => "\r",
            't' => "\t",
            'x' => ((char)Convert.ToInt32(m.Value[2..], 16)).ToString(),
            _ => m.Value[1].ToString(),
        });

    [GeneratedRegex(@"CreateProcessInternalW app (?:\(null\)|L""(?:[^""\\]|\\.)*"") cmdline L""((?:[^""\\]|\\.)*)""")]
    private static partial Regex CreateProcessLine();

    [GeneratedRegex(@"\\(x[0-9a-fA-F]{4}|.)")]
    private static partial Regex EscapeSequence();
}
