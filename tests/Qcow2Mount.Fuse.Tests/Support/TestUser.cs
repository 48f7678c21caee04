using System.Globalization;

namespace Qcow2Mount.Fuse.Tests.Support;

/// <summary>
/// A real unprivileged account for the tests that must not run as root (created with useradd when missing, kept for
/// later runs). <see cref="Mounter"/> is in the group <see cref="FuseGroup"/>, which <see cref="FuseAccess"/> gives
/// read-write access to /dev/fuse while a fixture runs; <see cref="Other"/> is not, and plays a second local user.
/// Commands run through setpriv with a clean environment (no XDG_RUNTIME_DIR unless a test passes one).
/// </summary>
internal sealed class TestUser
{
    public const string FuseGroup = "qcow2mount-fuse";

    private static readonly object Gate = new();

    private TestUser(string name, uint uid, uint gid)
    {
        Name = name;
        Uid = uid;
        Gid = gid;
    }

    /// <summary>Mounts as a user: may open /dev/fuse while <see cref="FuseAccess"/> is in effect.</summary>
    public static TestUser Mounter => Ensure("qcow2mount-t1", FuseGroup);

    /// <summary>Another local user, without access to /dev/fuse.</summary>
    public static TestUser Other => Ensure("qcow2mount-t2", null);

    public string Name { get; }

    public uint Uid { get; }

    public uint Gid { get; }

    /// <summary>Where the mount keeps this user's pid files when XDG_RUNTIME_DIR is not set.</summary>
    public string PidDirectory => $"/tmp/qcow2mount-{Uid}";

    /// <summary>Runs <paramref name="program"/> as this user with PATH, HOME=/tmp and <paramref name="environment"/> only.</summary>
    public ProcessResult Run(IReadOnlyDictionary<string, string>? environment, string program, params string[] args)
    {
        var argv = new List<string>
        {
            $"--reuid={Uid}", $"--regid={Gid}", "--init-groups", "--",
            "env", "-i", "PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "HOME=/tmp", "DOTNET_CLI_TELEMETRY_OPTOUT=1",
        };
        argv.AddRange((environment ?? new Dictionary<string, string>()).Select(kv => $"{kv.Key}={kv.Value}"));
        argv.Add(program);
        argv.AddRange(args);
        return ProcessRunner.Capture("setpriv", argv);
    }

    /// <summary>The built command line (<c>dotnet qcow2mount.dll ARGS</c>) as this user.</summary>
    public ProcessResult Cli(params string[] args) => Cli(null, args);

    public ProcessResult Cli(IReadOnlyDictionary<string, string>? environment, params string[] args) =>
        Run(environment, "dotnet", [Support.Cli.DllPath, .. args]);

    /// <summary>A file or directory in a scratch area handed to this user.</summary>
    public void Own(string path) => ProcessRunner.Output("chown", "-R", $"{Uid}:{Gid}", path);

    private static TestUser Ensure(string name, string? group)
    {
        RequiredTools.Require("setpriv");
        lock (Gate)
        {
            if (group is not null && ProcessRunner.Capture("getent", "group", group).ExitCode != 0)
            {
                ProcessRunner.Output("groupadd", "--system", group);
            }

            if (ProcessRunner.Capture("id", "-u", name).ExitCode != 0)
            {
                var args = new List<string> { "--system", "--no-create-home", "--user-group", "--shell", "/usr/sbin/nologin" };
                if (group is not null)
                {
                    args.AddRange(["--groups", group]);
                }

                args.Add(name);
                ProcessRunner.Output("useradd", [.. args]);
            }

            uint uid = uint.Parse(ProcessRunner.Output("id", "-u", name).Trim(), CultureInfo.InvariantCulture);
            uint gid = uint.Parse(ProcessRunner.Output("id", "-g", name).Trim(), CultureInfo.InvariantCulture);
            return new TestUser(name, uid, gid);
        }
    }
}
