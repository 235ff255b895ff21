using System.Diagnostics;
using Latch.Agent.Config;
using Microsoft.Extensions.Logging;

namespace Latch.Agent.Os;

/// <summary>What a finished program did.</summary>
internal sealed record ProcessResult(int ExitCode, string Stdout, string Stderr)
{
    public bool Succeeded => ExitCode == 0;

    /// <summary>The last lines of stderr (or stdout), for a message.</summary>
    public string Output => (Stderr.Trim().Length > 0 ? Stderr : Stdout).Trim() is { Length: > 0 } text
        ? text.Length > 600 ? "…" + text[^600..] : text
        : "(no output)";
}

/// <summary>
/// The system latchd manages: "/" for the machine it runs on, or a <c>--root DIR</c> tree (a mounted image, a test
/// sandbox). Files are found under the root, and programs (useradd, sshd, visudo, ssh-keygen) run chrooted into it,
/// so they read that tree's /etc and not the host's.
/// </summary>
internal sealed class HostSystem(string root, ILogger logger)
{
    private static readonly TimeSpan s_commandTimeout = TimeSpan.FromMinutes(2);

    public string Root { get; } = root == "/" ? "/" : Path.GetFullPath(root).TrimEnd('/');

    /// <summary>True when latchd manages the machine it runs on (so it may set the kernel hostname or signal sshd).</summary>
    public bool IsLiveSystem => Root == "/";

    public ILogger Logger => logger;

    /// <summary>The host path of an absolute path of the managed system.</summary>
    public string PathOf(string absolute) => RootPath.Join(Root, absolute);

    /// <summary>
    /// Runs a program of the managed system with a clean environment. <paramref name="stdin"/> is never logged
    /// (a password hash goes there, never on the command line); the argument list is logged at debug level.
    /// </summary>
    public async Task<ProcessResult> RunAsync(IReadOnlyList<string> argv, string? stdin = null, CancellationToken cancellationToken = default)
    {
        IReadOnlyList<string> command = IsLiveSystem ? argv : ["chroot", Root, .. argv];
        var start = new ProcessStartInfo(command[0])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in command.Skip(1))
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment.Clear();
        start.Environment["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
        start.Environment["LANG"] = "C.UTF-8";
        Log.Running(logger, string.Join(' ', argv));

        using var process = new Process { StartInfo = start };
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return new ProcessResult(127, "", $"cannot start {command[0]}: {e.Message}");
        }

        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        try
        {
            if (stdin is not null)
            {
                await process.StandardInput.WriteAsync(stdin.AsMemory(), cancellationToken).ConfigureAwait(false);
            }

            process.StandardInput.Close();
        }
        catch (IOException)
        {
            // the program exited without reading its input; its exit code tells the rest
        }

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(s_commandTimeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            if (cancellationToken.IsCancellationRequested)
            {
                throw;
            }

            return new ProcessResult(124, "", $"{argv[0]} did not finish within {s_commandTimeout.TotalSeconds:0} s and was killed");
        }

        return new ProcessResult(process.ExitCode, await stdout.ConfigureAwait(false), await stderr.ConfigureAwait(false));
    }

    /// <summary>Reads a file of the managed system, or null when it does not exist.</summary>
    public string? TryReadText(string absolute)
    {
        try
        {
            return File.ReadAllText(PathOf(absolute));
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
    }

    /// <summary>True when a program exists in the managed system (checked in the usual sbin/bin directories).</summary>
    public bool HasProgram(string name) =>
        new[] { "/usr/sbin/", "/usr/bin/", "/sbin/", "/bin/" }.Any(d => File.Exists(PathOf(d + name)));
}
