using Latch.Agent.Config;
using Latch.Agent.Os;
using Latch.Azure;

namespace Latch.Agent.Provisioning;

/// <summary>
/// <c>latchd provision --dry-run</c>: reads the provisioning data (saved files, the configured ovf-env.xml path, or IMDS,
/// which is only read) and prints the plan. Mounts nothing, writes nothing, reports nothing to the WireServer.
/// </summary>
internal sealed class DryRun(HostSystem system, AgentConfig config, Func<AgentClients> clients)
{
    public async Task<int> RunAsync(string? imdsJsonPath, string? ovfEnvPath, TextWriter output, CancellationToken cancellationToken = default)
    {
        var notes = new List<string>();
        try
        {
            ImdsInstance? imds = null;
            if (imdsJsonPath is not null)
            {
                imds = ParseImds(imdsJsonPath);
            }
            else if (config.UseImds && ovfEnvPath is null)
            {
                using var c = clients();
                imds = await c.Imds.GetInstanceAsync(cancellationToken).ConfigureAwait(false);
            }

            OvfEnvironment? ovf = null;
            var media = new ProvisioningMedia(system, config.MediaMountPoint, new StateStore(system, config.StateDirectory));
            if (ovfEnvPath is not null)
            {
                ovf = ParseOvf(File.ReadAllBytes(ovfEnvPath), ovfEnvPath);
            }
            else if (config.OvfEnvPath is { } configured)
            {
                ovf = ParseOvf(File.ReadAllBytes(system.PathOf(configured)), configured);
            }
            else if (config.UseMedia && media.Devices() is { Count: > 0 } devices)
            {
                notes.Add($"a real run would mount {string.Join(", ", devices.Select(d => "/dev/" + d))} read-only at {config.MediaMountPoint} to look for ovf-env.xml (not done in a dry run)");
            }

            var fallbackVmId = imds is null ? VmIdentity.FromDmi(system) ?? "(unknown: no IMDS data and no DMI product UUID)" : null;
            var data = Precedence.Merge(imds, ovf, fallbackVmId);
            var state = new StateStore(system, config.StateDirectory);
            var plan = PlanBuilder.Build(data, config, UserDatabase.Load(system), state.ReadState(), system);
            await output.WriteAsync(plan.Describe()).ConfigureAwait(false);
            foreach (var note in notes)
            {
                await output.WriteLineAsync("  note:       " + note).ConfigureAwait(false);
            }

            if (state.ReadMarker() is { } marker && string.Equals(marker, data.VmId, StringComparison.OrdinalIgnoreCase))
            {
                await output.WriteLineAsync($"  note:       this machine is already provisioned for VM {marker}: a real run would only report Ready").ConfigureAwait(false);
            }

            await output.WriteLineAsync("dry run: nothing was changed").ConfigureAwait(false);
            return 0;
        }
        catch (ProvisioningException e)
        {
            await output.WriteLineAsync($"refused: {e.Description}").ConfigureAwait(false);
            await output.WriteLineAsync("dry run: nothing was changed; a real run would report NotReady (ProvisioningFailed) with this description").ConfigureAwait(false);
            return 1;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or AzureRequestException)
        {
            await output.WriteLineAsync($"latchd: cannot read the provisioning data: {e.Message}").ConfigureAwait(false);
            return 2;
        }
    }

    private static ImdsInstance ParseImds(string path)
    {
        try
        {
            return ImdsClient.ParseInstance(File.ReadAllBytes(path));
        }
        catch (AzureFormatException e)
        {
            throw new ProvisioningException("imds", "ImdsMalformed", $"{path}: {e.Message}", e);
        }
    }

    private static OvfEnvironment ParseOvf(byte[] bytes, string source)
    {
        try
        {
            return OvfEnvironment.Parse(bytes);
        }
        catch (AzureFormatException e)
        {
            throw new ProvisioningException("media", "OvfEnvMalformed", $"{source}: {e.Message}", e);
        }
    }
}
