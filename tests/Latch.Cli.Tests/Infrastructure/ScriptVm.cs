using System.Diagnostics;

namespace Latch.Cli.Tests.Infrastructure;

/// <summary>
/// A throwaway "VM" for running generated scripts with real bash as root: a temp home for a user with its own uid,
/// named by a private /etc/passwd inside <c>unshare --mount</c> (<see cref="PrivateEtc"/>) (nothing on the host changes).
/// </summary>
internal sealed class ScriptVm : IDisposable
{
    private ScriptVm(string root, string home, string passwd, int uid)
    {
        Root = root;
        Home = home;
        PasswdPath = passwd;
        Uid = uid;
    }

    public string Root { get; }
    public string Home { get; }
    public string PasswdPath { get; }
    public int Uid { get; }
    public string SshDirectory => Path.Combine(Home, ".ssh");
    public string AuthorizedKeys => Path.Combine(Home, ".ssh", "authorized_keys");

    public static ScriptVm Create(string user = "azureuser", int uid = 43000)
    {
        Requires.Root();
        Requires.Tool("unshare", "util-linux");
        var root = Directory.CreateTempSubdirectory("latch-script-vm-").FullName;
        File.SetUnixFileMode(root, (UnixFileMode)Convert.ToInt32("755", 8));
        var home = Path.Combine(root, "home", user);
        Directory.CreateDirectory(home);
        CliWorld.Chown(home, uid);
        Directory.CreateDirectory(Path.Combine(root, "root"));
        var passwd = PrivateEtc.Create(Path.Combine(root, "etc"), $"root:x:0:0:root:{Path.Combine(root, "root")}:/bin/bash\n{user}:x:{uid}:{uid}::{home}:/bin/bash\n");
        return new ScriptVm(root, home, passwd, uid);
    }

    /// <summary>
    /// Runs <paramref name="script"/> as root the way the emulator's run-command does (bash -c), inside the private passwd;
    /// with <paramref name="asUser"/>, as the VM's user instead (how it runs over ssh).
    /// </summary>
    public async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(string script, string workingDirectory = "/", bool asUser = false)
    {
        var command = PrivateEtc.Prefix(Path.GetDirectoryName(PasswdPath)!);
        var start = new ProcessStartInfo(command[0])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
        };
        string[] user = asUser ? ["setpriv", $"--reuid={Uid}", $"--regid={Uid}", "--clear-groups", "--"] : [];
        foreach (var argument in (string[])[.. command.Skip(1), .. user, "/bin/bash", "-c", script, "script.sh"])
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment.Clear();
        start.Environment["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
        start.Environment["HOME"] = "/root";
        using var process = Process.Start(start)!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(deadline.Token);
        return (process.ExitCode, await stdout, await stderr);
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // temp directory
        }
    }
}
