using System.Diagnostics;
using Latch.Emulator.State;
using Microsoft.Extensions.Logging;

namespace Latch.Emulator.Media;

/// <summary>Where a VM's provisioning media were written. <see cref="IsoPath"/> is null when no ISO tool is installed.</summary>
public sealed record MediaPaths(string OvfEnvPath, string? IsoPath);

/// <summary>
/// Writes a VM's ovf-env.xml (mode 0600: it may hold the admin password) into the state directory and, when
/// genisoimage or xorriso is installed, an ISO 9660 + Joliet image holding it, as Azure attaches it as a DVD.
/// </summary>
internal static class MediaWriter
{
    public static async Task<MediaPaths> WriteAsync(VmState vm, string stateDirectory, ILogger logger, CancellationToken cancellationToken = default)
    {
        var directory = Path.Combine(stateDirectory, "media", vm.Name);
        var content = Path.Combine(directory, "content");
        Directory.CreateDirectory(content, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);

        var ovfPath = Path.Combine(content, "ovf-env.xml");
        await WritePrivateAsync(ovfPath, OvfEnvironment.Build(vm), cancellationToken).ConfigureAwait(false);

        var isoPath = Path.Combine(directory, "ovf-env.iso");
        var tool = FindTool();
        if (tool is null)
        {
            Log.NoIsoTool(logger, vm.Name);
            Log.MediaWritten(logger, vm.Name, directory, "none");
            return new MediaPaths(ovfPath, null);
        }

        File.Delete(isoPath);
        IReadOnlyList<string> arguments = Path.GetFileName(tool) == "xorriso"
            ? ["-as", "mkisofs", "-quiet", "-J", "-r", "-V", "OVF_ENV", "-o", isoPath, content]
            : ["-quiet", "-J", "-r", "-input-charset", "utf-8", "-V", "OVF_ENV", "-o", isoPath, content];
        await RunAsync(tool, arguments, cancellationToken).ConfigureAwait(false);
        File.SetUnixFileMode(isoPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        Log.MediaWritten(logger, vm.Name, directory, isoPath);
        return new MediaPaths(ovfPath, isoPath);
    }

    internal static string? FindTool()
    {
        var path = Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin";
        foreach (var name in new[] { "genisoimage", "xorriso" })
        {
            foreach (var dir in path.Split(':', StringSplitOptions.RemoveEmptyEntries).Append("/usr/bin"))
            {
                var candidate = Path.Combine(dir, name);
                if (File.Exists(candidate))
                {
                    return candidate;
                }
            }
        }

        return null;
    }

    private static async Task WritePrivateAsync(string path, string text, CancellationToken cancellationToken)
    {
        var temporary = path + ".tmp";
        var options = new FileStreamOptions
        {
            Mode = FileMode.Create,
            Access = FileAccess.Write,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        };
        var stream = new FileStream(temporary, options);
        await using (stream.ConfigureAwait(false))
        {
            await stream.WriteAsync(System.Text.Encoding.UTF8.GetBytes(text), cancellationToken).ConfigureAwait(false);
            await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
        }

        File.Move(temporary, path, overwrite: true);
    }

    private static async Task RunAsync(string tool, IReadOnlyList<string> arguments, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(tool) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {tool}");
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        try
        {
            await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        await stdout.ConfigureAwait(false);
        var errors = await stderr.ConfigureAwait(false);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{Path.GetFileName(tool)} failed with exit code {process.ExitCode}: {errors.Trim()}");
        }
    }
}
