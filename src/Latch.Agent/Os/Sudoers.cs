using Latch.Agent.Provisioning;
using Latch.Core.Files;

namespace Latch.Agent.Os;

/// <summary>The admin user's sudoers drop-in, checked by visudo before it is moved into place.</summary>
internal sealed class Sudoers(HostSystem system, StateStore state)
{
    public async Task InstallAsync(string path, string content, CancellationToken cancellationToken = default)
    {
        // visudo checks a copy in latchd's root-only state directory; only a file that passed is written to sudoers.d
        state.EnsureDirectory(state.Directory);
        var check = state.Directory + "/sudoers.check";
        SafeFile.WriteSystemFile(system.PathOf(check), System.Text.Encoding.UTF8.GetBytes(content), 0b100_100_000, cancellationToken);
        try
        {
            var result = await system.RunAsync(["visudo", "-c", "-q", "-f", check], cancellationToken: cancellationToken).ConfigureAwait(false);
            if (!result.Succeeded)
            {
                throw new ProvisioningException("sudoers", "SudoersInvalid", $"visudo -c refused the drop-in for {path}: {result.Output}");
            }
        }
        finally
        {
            File.Delete(system.PathOf(check));
        }

        var directory = Path.GetDirectoryName(path)!;
        if (!Directory.Exists(system.PathOf(directory)))
        {
            throw new ProvisioningException("sudoers", "NoSudoersDir", $"{directory} does not exist; is sudo installed? (apt-get install sudo)");
        }

        SafeFile.WriteSystemFile(system.PathOf(path), System.Text.Encoding.UTF8.GetBytes(content), 0b100_100_000, cancellationToken);
        var main = system.TryReadText("/etc/sudoers") ?? "";
        if (!main.Split('\n').Any(l => l.TrimStart().StartsWith("@includedir " + directory, StringComparison.Ordinal) || l.TrimStart().StartsWith("#includedir " + directory, StringComparison.Ordinal)))
        {
            Log.SudoersNotIncluded(system.Logger, directory);
        }
    }
}
