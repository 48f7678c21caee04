using System.Xml.Linq;

namespace Qcow2Mount.Cli.Tests.Build;

/// <summary>
/// Writes a minimal VSTest TRX file, the shape `dotnet test --logger trx` produces: a ResultSummary with its
/// outcome and Counters, and one UnitTestResult per test.
/// </summary>
internal sealed class TrxFile
{
    private static readonly XNamespace Ns = "http://microsoft.com/schemas/VisualStudio/TeamTest/2010";

    private readonly List<(string Name, string Outcome, string? Message)> _results = new();

    public string RunOutcome { get; init; } = "Completed";

    /// <summary>False writes no Counters element, like a TRX file whose test host died.</summary>
    public bool WithCounters { get; init; } = true;

    public TrxFile Add(string testName, string outcome, string? message = null)
    {
        _results.Add((testName, outcome, message));
        return this;
    }

    public void Save(string directory, string fileName, string assemblyName = "Example.Tests")
    {
        int Count(params string[] outcomes) => _results.Count(r => outcomes.Contains(r.Outcome));
        string codeBase = $"/repo/tests/{assemblyName}/bin/Release/net10.0/{assemblyName}.dll";

        var summary = new XElement(Ns + "ResultSummary", new XAttribute("outcome", RunOutcome));
        if (WithCounters)
        {
            summary.Add(new XElement(
                Ns + "Counters",
                new XAttribute("total", _results.Count),
                new XAttribute("executed", _results.Count - Count("NotExecuted")),
                new XAttribute("passed", Count("Passed")),
                new XAttribute("failed", Count("Failed")),
                new XAttribute("error", Count("Error")),
                new XAttribute("timeout", 0),
                new XAttribute("aborted", 0),
                new XAttribute("inconclusive", Count("Inconclusive")),
                new XAttribute("notExecuted", Count("NotExecuted"))));
        }

        var doc = new XDocument(new XElement(
            Ns + "TestRun",
            new XAttribute("name", "example run"),
            new XElement(Ns + "Results", _results.Select(r => new XElement(
                Ns + "UnitTestResult",
                new XAttribute("testName", r.Name),
                new XAttribute("outcome", r.Outcome),
                r.Message is null
                    ? null
                    : new XElement(Ns + "Output", new XElement(Ns + "ErrorInfo", new XElement(Ns + "Message", r.Message)))))),
            new XElement(Ns + "TestDefinitions", _results.Select(r => new XElement(
                Ns + "UnitTest",
                new XAttribute("name", r.Name),
                new XElement(Ns + "TestMethod", new XAttribute("codeBase", codeBase), new XAttribute("name", r.Name))))),
            summary));
        doc.Save(Path.Combine(directory, fileName));
    }
}
