using System.ComponentModel;
using System.Diagnostics;
using System.Text;

namespace Latch.Emulator;

/// <summary>How a run-command script ended: its exit code (null when it never ran or was killed) and its output tails.</summary>
internal sealed record RunCommandOutcome(int? ExitCode, string Stdout, string Stderr, bool TimedOut, string? StartError)
{
    public bool Succeeded => ExitCode == 0 && !TimedOut && StartError is null;
}

/// <summary>
/// Runs a run-command script the way the Linux RunCommand extension does: as root with bash, parameters given both as
/// positional arguments ($1…) and, when named, as environment variables; output limited to its last 4096 bytes per stream.
/// With an Exec prefix (netns/chroot into a VM) the script goes through bash -c, since a host temp file is not visible inside;
/// without one it is written to a fresh temp directory that is also the working directory.
/// </summary>
internal static class RunCommandRunner
{
    /// <summary>Azure returns only the last 4096 bytes of each output stream.</summary>
    public const int OutputLimitBytes = 4096;

    private const string Path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    public static async Task<RunCommandOutcome> RunAsync(
        IReadOnlyList<string> exec,
        IReadOnlyList<string> script,
        IReadOnlyList<RunCommandParameterJson> parameters,
        TimeSpan timeout,
        TimeProvider time,
        CancellationToken cancellationToken = default)
    {
        var workDirectory = Directory.CreateTempSubdirectory("latch-run-command-");
        try
        {
            var text = string.Join('\n', script) + "\n";
            var start = new ProcessStartInfo
            {
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
                WorkingDirectory = workDirectory.FullName,
            };
            if (exec.Count == 0)
            {
                var file = System.IO.Path.Combine(workDirectory.FullName, "script.sh");
                await File.WriteAllTextAsync(file, text, cancellationToken).ConfigureAwait(false);
                start.FileName = "/bin/bash";
                start.ArgumentList.Add(file);
            }
            else
            {
                start.FileName = exec[0];
                foreach (var argument in exec.Skip(1))
                {
                    start.ArgumentList.Add(argument);
                }
                start.ArgumentList.Add("/bin/bash");
                start.ArgumentList.Add("-c");
                start.ArgumentList.Add(text);
                start.ArgumentList.Add("script.sh"); // $0, as the extension's script file name
            }
            foreach (var parameter in parameters)
            {
                start.ArgumentList.Add(parameter.Value ?? "");
            }
            start.Environment.Clear();
            start.Environment["PATH"] = Path;
            start.Environment["HOME"] = "/root";
            start.Environment["USER"] = "root";
            start.Environment["LANG"] = "C.UTF-8";
            foreach (var parameter in parameters.Where(p => !string.IsNullOrEmpty(p.Name)))
            {
                start.Environment[parameter.Name!] = parameter.Value ?? "";
            }

            using var process = new Process { StartInfo = start };
            try
            {
                process.Start();
            }
            catch (Exception e) when (e is Win32Exception or InvalidOperationException)
            {
                return new RunCommandOutcome(null, "", "", false, $"could not start '{start.FileName}': {e.Message}");
            }
            process.StandardInput.Close();
            var stdout = ReadTailAsync(process.StandardOutput.BaseStream);
            var stderr = ReadTailAsync(process.StandardError.BaseStream);

            using var deadline = new CancellationTokenSource(timeout, time);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(deadline.Token, cancellationToken);
            var timedOut = false;
            try
            {
                await process.WaitForExitAsync(linked.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                timedOut = deadline.IsCancellationRequested;
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
            }
            // a daemon the script left behind may hold the pipes open: don't wait for it forever
            var readers = Task.WhenAll(stdout, stderr);
            await Task.WhenAny(readers, Task.Delay(TimeSpan.FromSeconds(5), time, CancellationToken.None)).ConfigureAwait(false);
            var outText = stdout.IsCompletedSuccessfully ? stdout.Result : "";
            var errText = stderr.IsCompletedSuccessfully ? stderr.Result : "";
            cancellationToken.ThrowIfCancellationRequested();
            return new RunCommandOutcome(timedOut ? null : process.ExitCode, outText, errText, timedOut, null);
        }
        finally
        {
            try
            {
                workDirectory.Delete(recursive: true);
            }
            catch (IOException)
            {
                // a process the script started may still be writing there; the temp directory is the system's to clean
            }
        }
    }

    /// <summary>Reads a stream to its end, keeping only its last <see cref="OutputLimitBytes"/> bytes.</summary>
    internal static async Task<string> ReadTailAsync(Stream stream)
    {
        var tail = new byte[OutputLimitBytes];
        var buffer = new byte[8192];
        long total = 0;
        int read;
        while ((read = await stream.ReadAsync(buffer).ConfigureAwait(false)) > 0)
        {
            if (read >= tail.Length)
            {
                Array.Copy(buffer, read - tail.Length, tail, 0, tail.Length);
            }
            else
            {
                var kept = (int)Math.Min(total, tail.Length - read);
                Array.Copy(tail, tail.Length - kept, tail, tail.Length - kept - read, kept);
                Array.Copy(buffer, 0, tail, tail.Length - read, read);
            }
            total += read;
        }
        var length = (int)Math.Min(total, tail.Length);
        return Encoding.UTF8.GetString(tail, tail.Length - length, length);
    }
}
