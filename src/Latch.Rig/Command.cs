using System.Diagnostics;
using System.Text;

namespace Latch.Rig;

/// <summary>What a finished program left behind.</summary>
internal sealed record CommandResult(int ExitCode, string Stdout, string Stderr)
{
    public bool Succeeded => ExitCode == 0;
}

/// <summary>Runs short-lived programs (ip, mount, chroot …) and collects their output.</summary>
internal static class Command
{
    /// <summary>A clean environment for programs that run inside a VM: nothing of the test runner leaks in.</summary>
    public static readonly IReadOnlyDictionary<string, string> VmEnvironment = new Dictionary<string, string>
    {
        ["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        ["HOME"] = "/root",
        ["LANG"] = "C.UTF-8",
    };

    private static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(120);

    public static async Task<CommandResult> RunAsync(
        IReadOnlyList<string> argv,
        string? stdin = null,
        IReadOnlyDictionary<string, string>? environment = null,
        TimeSpan? timeout = null,
        CancellationToken cancellationToken = default,
        Action<string>? onStderrLine = null)
    {
        using var process = new Process { StartInfo = CreateStartInfo(argv, environment) };
        process.StartInfo.RedirectStandardInput = true;
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new RigException($"cannot start '{argv[0]}': {e.Message} (is it installed? run scripts/install-deps.sh)", e);
        }

        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = onStderrLine is null ? process.StandardError.ReadToEndAsync(cancellationToken) : ReadLinesAsync(process.StandardError, onStderrLine, cancellationToken);
        if (stdin is not null)
        {
            try
            {
                await process.StandardInput.WriteAsync(stdin.AsMemory(), cancellationToken);
            }
            catch (IOException)
            {
                // the program exited without reading all of its input; its exit code tells the story
            }
        }

        process.StandardInput.Close();
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout ?? DefaultTimeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            cancellationToken.ThrowIfCancellationRequested();
            throw new RigException($"'{Describe(argv)}' did not finish within {(timeout ?? DefaultTimeout).TotalSeconds} s and was killed");
        }

        return new CommandResult(process.ExitCode, await stdout, await stderr);
    }

    /// <summary>Reads a stream to its end, handing each line to <paramref name="onLine"/> as it arrives; returns all of it.</summary>
    private static async Task<string> ReadLinesAsync(StreamReader reader, Action<string> onLine, CancellationToken cancellationToken)
    {
        var all = new StringBuilder();
        while (await reader.ReadLineAsync(cancellationToken) is { } line)
        {
            all.Append(line).Append('\n');
            onLine(line);
        }

        return all.ToString();
    }

    /// <summary>Runs a program and throws, with its stderr, when it fails.</summary>
    public static async Task<CommandResult> CheckAsync(
        IReadOnlyList<string> argv,
        string? stdin = null,
        IReadOnlyDictionary<string, string>? environment = null,
        TimeSpan? timeout = null,
        CancellationToken cancellationToken = default)
    {
        var result = await RunAsync(argv, stdin, environment, timeout, cancellationToken);
        if (!result.Succeeded)
        {
            throw new RigException($"'{Describe(argv)}' exited with {result.ExitCode}: {result.Stderr.Trim()}");
        }

        return result;
    }

    public static ProcessStartInfo CreateStartInfo(IReadOnlyList<string> argv, IReadOnlyDictionary<string, string>? environment)
    {
        var info = new ProcessStartInfo(argv[0])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (var arg in argv.Skip(1))
        {
            info.ArgumentList.Add(arg);
        }

        if (environment is not null)
        {
            info.Environment.Clear();
            foreach (var (name, value) in environment)
            {
                info.Environment[name] = value;
            }
        }

        return info;
    }

    public static string Describe(IReadOnlyList<string> argv) =>
        string.Join(' ', argv.Select(a => a.Length == 0 || a.Any(char.IsWhiteSpace) ? $"'{a}'" : a));
}
