namespace Qcow2Mount.Cli;

/// <summary>One verb of the command line (<c>create</c>, <c>info</c>, <c>mount</c>, …).</summary>
internal interface ICommand
{
    string Name { get; }

    /// <summary>One line for the verb list in <c>--help</c>.</summary>
    string Summary { get; }

    /// <summary>Runs the verb with the arguments after its name; returns the process exit code.</summary>
    int Run(string[] args);
}
