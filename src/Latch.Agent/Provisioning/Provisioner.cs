using Latch.Agent.Config;
using Latch.Agent.Os;
using Latch.Azure;
using Latch.Core.Files;

namespace Latch.Agent.Provisioning;

/// <summary>
/// <c>latchd provision</c>: waagent's provisioning sequence. Goal state; NotReady/Provisioning/"Starting"; read IMDS and
/// ovf-env.xml; plan (all validation); execute; write the marker; Ready (and the host key thumbprint as a role property).
/// Any failure is reported as NotReady/ProvisioningFailed naming the step, and Ready is never sent after a failure.
/// A machine whose marker holds this VM's id is not provisioned again: it only reports Ready.
/// </summary>
internal sealed class Provisioner(HostSystem system, AgentConfig config, AgentClients clients, TimeProvider time)
{
    public const string SubStatusProvisioning = "Provisioning";
    public const string SubStatusFailed = "ProvisioningFailed";

    private readonly StateStore _state = new(system, config.StateDirectory);

    /// <summary>Returns 0 when Ready was reported, 1 otherwise.</summary>
    public async Task<int> ProvisionAsync(bool skipProvisioning = false, CancellationToken cancellationToken = default)
    {
        var logger = system.Logger;
        var goalStateTask = clients.WireServer.GetGoalStateAsync(cancellationToken);
        var imdsTask = !skipProvisioning ? TryImdsAsync(cancellationToken) : Task.FromResult<(ImdsInstance?, string?)>((null, null));
        GoalState goalState;
        try
        {
            goalState = await goalStateTask.ConfigureAwait(false);
        }
        catch (AzureRequestException e)
        {
            Log.WireServerUnreachable(logger, e.Message);
            return 1;
        }

        var (imds, imdsError) = await imdsTask.ConfigureAwait(false);
        if (skipProvisioning)
        {
            Log.ProvisioningDisabled(logger, config.ProvisioningAgent);
            return await ReportReadyAsync(goalState, null, cancellationToken).ConfigureAwait(false);
        }

        var vmId = imds?.Compute.VmId ?? VmIdentity.FromDmi(system);
        var marker = _state.ReadMarker();
        if (marker is not null && vmId is not null && string.Equals(marker, vmId, StringComparison.OrdinalIgnoreCase))
        {
            Log.AlreadyProvisioned(logger, vmId, system.PathOf(_state.MarkerPath));
            MigrateLegacyKeys(cancellationToken);
            return await ReportReadyAsync(goalState, new HostKeys(system, config.SshDirectory).Thumbprint(config.SshHostKeyPairType), cancellationToken).ConfigureAwait(false);
        }

        if (marker is not null)
        {
            Log.NewInstance(logger, marker, vmId ?? "(unknown)");
        }

        goalState = await ReportAsync(goalState, HealthReport.NotReady(SubStatusProvisioning, "Starting"), cancellationToken).ConfigureAwait(false) ?? goalState;
        ProvisioningState result;
        try
        {
            var ovf = await ReadOvfEnvironmentAsync(cancellationToken).ConfigureAwait(false);
            if (imdsError is not null && ovf is null)
            {
                throw new ProvisioningException("imds", "ImdsUnavailable", imdsError);
            }

            // IMDS always names the VM (the marker's key); it is a source of user and keys only with Latch.UseImds
            var data = Precedence.Merge(config.UseImds ? imds : null, ovf, vmId);
            foreach (var decision in data.Decisions)
            {
                Log.Precedence(logger, decision);
            }

            var plan = PlanBuilder.Build(data, config, UserDatabase.Load(system), _state.ReadState(), system);
            foreach (var note in plan.Notes)
            {
                Log.PlanNote(logger, note);
            }

            result = await new PlanExecutor(system, config, _state, time).ExecuteAsync(plan, cancellationToken).ConfigureAwait(false);
            try
            {
                _state.WriteMarker(data.VmId, cancellationToken);
            }
            catch (SafeFileException e)
            {
                throw new ProvisioningException("marker", "File" + e.Reason, e.Message, e);
            }
        }
        catch (Exception e) when (AsFailure(e) is { } failure)
        {
            Log.ProvisioningFailed(logger, failure.Step, failure.Code, failure.Message);
            await ReportAsync(goalState, HealthReport.NotReady(SubStatusFailed, failure.Description), cancellationToken).ConfigureAwait(false);
            return 1;
        }

        Log.Provisioned(logger, result.VmId, result.UserName, result.KeyFingerprints.Count);
        return await ReportReadyAsync(goalState, result.HostKeyThumbprint, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// A machine an earlier latchd provisioned keeps its keys in {state}/managed-keys: they move into the key guard's
    /// store, so the upgrade keeps them served. A failure is logged; it does not stop the Ready report.
    /// </summary>
    private void MigrateLegacyKeys(CancellationToken cancellationToken)
    {
        try
        {
            _state.EnsureDirectory(_state.Directory);
            new ProvisionedKeys(system, config.KeyStoreDirectory).MigrateLegacy(config.StateDirectory, cancellationToken);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or SafeFileException)
        {
            Log.LegacyKeysSkipped(system.Logger, system.PathOf(config.StateDirectory + "/" + ProvisionedKeys.LegacyDirectoryName), e.Message);
        }
    }

    /// <summary>What a failure reports as NotReady; an unexpected exception is reported too (as step 'internal'), never hidden.</summary>
    private static ProvisioningException? AsFailure(Exception e) => e switch
    {
        ProvisioningException p => p,
        SafeFileException f => new ProvisioningException("files", "File" + f.Reason, f.Message, f),
        IOException or UnauthorizedAccessException => new ProvisioningException("files", "IoError", e.Message, e),
        OperationCanceledException => null,
        _ => new ProvisioningException("internal", e.GetType().Name, e.Message, e),
    };

    private async Task<int> ReportReadyAsync(GoalState goalState, string? thumbprint, CancellationToken cancellationToken)
    {
        var accepted = await ReportAsync(goalState, HealthReport.Ready, cancellationToken).ConfigureAwait(false);
        if (accepted is null)
        {
            return 1;
        }

        Log.ReportedReady(system.Logger, accepted.Incarnation);
        if (thumbprint is not null)
        {
            try
            {
                await clients.WireServer.ReportRolePropertiesAsync(accepted, [new("CertificateThumbprint", thumbprint)], cancellationToken).ConfigureAwait(false);
                Log.ThumbprintReported(system.Logger, thumbprint);
            }
            catch (AzureRequestException e)
            {
                Log.ThumbprintNotReported(system.Logger, e.Message);
            }
        }

        return 0;
    }

    /// <summary>Sends one health report; null when the WireServer did not take it (logged).</summary>
    private async Task<GoalState?> ReportAsync(GoalState goalState, HealthReport report, CancellationToken cancellationToken)
    {
        try
        {
            return await clients.WireServer.ReportHealthAsync(goalState, report, cancellationToken).ConfigureAwait(false);
        }
        catch (AzureRequestException e)
        {
            Log.HealthNotReported(system.Logger, report.State.ToString(), report.SubStatus ?? "", e.Message);
            return null;
        }
    }

    private async Task<(ImdsInstance?, string?)> TryImdsAsync(CancellationToken cancellationToken)
    {
        try
        {
            return (await clients.Imds.GetInstanceAsync(cancellationToken).ConfigureAwait(false), null);
        }
        catch (AzureRequestException e)
        {
            Log.ImdsUnavailable(system.Logger, e.Message);
            return (null, $"IMDS gave no instance metadata: {e.Message}");
        }
    }

    /// <summary>ovf-env.xml from Latch.OvfEnvPath, else from the provisioning media, else null.</summary>
    internal async Task<OvfEnvironment?> ReadOvfEnvironmentAsync(CancellationToken cancellationToken)
    {
        var media = new ProvisioningMedia(system, config.MediaMountPoint, _state);
        if (config.OvfEnvPath is { } path)
        {
            Log.OvfEnvFromFile(system.Logger, path);
            return media.ReadFile(path, keepCopy: true, cancellationToken);
        }

        return config.UseMedia ? await media.ReadFromDeviceAsync(cancellationToken).ConfigureAwait(false) : null;
    }
}
