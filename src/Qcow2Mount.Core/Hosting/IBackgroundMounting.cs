namespace Qcow2Mount.Core.Hosting;

/// <summary>
/// A mount served by a background process the command starts (without fork: it runs this program again). The command
/// returns once the mount serves, or with the server's one-line error.
/// </summary>
public interface IBackgroundMounting
{
    /// <summary>
    /// In the command: runs this program with <paramref name="arguments"/> (the server's command line) as a detached
    /// server, prints what it prints until it reports ready, and returns 0 then, or its exit code when it failed.
    /// </summary>
    int Start(IReadOnlyList<string> arguments);

    /// <summary>
    /// First thing in the server: leave the command's session and terminal, close what it inherited, and open where its
    /// output goes once it serves (<paramref name="logFile"/>, or nowhere). Throws if the log file cannot be opened.
    /// </summary>
    IBackgroundServer Detach(string? logFile);
}
