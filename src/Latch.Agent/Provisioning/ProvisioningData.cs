using Latch.Azure;

namespace Latch.Agent.Provisioning;

/// <summary>One public key as a provisioning source gave it (text not yet validated).</summary>
internal sealed record SuppliedKey(string Text, string? Path, string Source);

/// <summary>
/// What to provision, merged from IMDS and ovf-env.xml by <see cref="Precedence"/>. <see cref="Decisions"/> says, in
/// words for the log, where each value came from.
/// </summary>
internal sealed record ProvisioningData(
    string VmId,
    string UserName,
    Secret? Password,
    bool DisablePasswordAuthentication,
    string HostName,
    IReadOnlyList<SuppliedKey> Keys,
    IReadOnlyList<string> Decisions);

/// <summary>
/// The documented precedence between the two sources (see docs/latchd.md):
/// <list type="bullet">
/// <item>ovf-env.xml wins for the user name, password, password policy and host name: it is the provisioning source of
/// truth Azure writes for this deployment, and the only one that carries the password. A disagreeing IMDS value is logged.</item>
/// <item>Public keys are the union of both, de-duplicated later by key identity (type + blob), ovf-env's first.</item>
/// <item>The VM id comes from IMDS (compute.vmId), else from the caller's fallback (the DMI product UUID).</item>
/// </list>
/// </summary>
internal static class Precedence
{
    /// <param name="imds">IMDS's instance document when it is a provisioning source (Latch.UseImds), else null.</param>
    /// <param name="fallbackVmId">The VM id when <paramref name="imds"/> is null: IMDS's even when it is not a data source, else DMI's.</param>
    public static ProvisioningData Merge(ImdsInstance? imds, OvfEnvironment? ovf, string? fallbackVmId)
    {
        var profile = imds?.Compute.OsProfile;
        if (ovf is null && profile is null)
        {
            throw new ProvisioningException("data", "NoProvisioningData",
                imds is null
                    ? "no provisioning data: IMDS was not consulted or unreachable, and no ovf-env.xml was found (provisioning media or Latch.OvfEnvPath)"
                    : "no provisioning data: IMDS has no compute.osProfile and no ovf-env.xml was found (provisioning media or Latch.OvfEnvPath)");
        }

        var decisions = new List<string>();
        var vmId = imds?.Compute.VmId ?? fallbackVmId
            ?? throw new ProvisioningException("data", "NoVmId", "no VM id: IMDS gave none and /sys/class/dmi/id/product_uuid is unreadable");
        decisions.Add(imds is not null ? "vm id from IMDS compute.vmId" : "IMDS is not a provisioning source here; the vm id comes from IMDS compute.vmId when reachable, else the DMI product UUID");

        string user, host;
        bool disablePassword;
        Secret? password = null;
        if (ovf is not null)
        {
            user = ovf.UserName;
            host = ovf.HostName;
            disablePassword = ovf.DisableSshPasswordAuthentication;
            password = ovf.UserPassword;
            decisions.Add("user, password and host name from ovf-env.xml (the provisioning source of truth)");
            if (profile is not null)
            {
                Disagree(decisions, "adminUsername", profile.AdminUsername, ovf.UserName);
                Disagree(decisions, "computerName", profile.ComputerName, ovf.HostName);
                if (profile.DisablePasswordAuthentication != ovf.DisableSshPasswordAuthentication)
                {
                    decisions.Add($"IMDS disablePasswordAuthentication={Lower(profile.DisablePasswordAuthentication)} differs from ovf-env.xml's {Lower(ovf.DisableSshPasswordAuthentication)}; ovf-env.xml wins");
                }
            }
        }
        else
        {
            user = profile!.AdminUsername;
            host = profile.ComputerName;
            disablePassword = profile.DisablePasswordAuthentication;
            decisions.Add("user and host name from IMDS osProfile (no ovf-env.xml); IMDS carries no password");
        }

        var keys = new List<SuppliedKey>();
        foreach (var key in ovf?.PublicKeys ?? [])
        {
            if (key.Value is { } value)
            {
                keys.Add(new SuppliedKey(value, key.Path, "ovf-env.xml"));
            }
            else
            {
                decisions.Add($"ovf-env.xml public key with fingerprint {key.Fingerprint} has no <Value>; a key from a goal-state certificate is not installed by latchd");
            }
        }

        foreach (var key in imds?.Compute.PublicKeys ?? [])
        {
            keys.Add(new SuppliedKey(key.KeyData, key.Path, "IMDS"));
        }

        if (ovf is not null && imds is not null)
        {
            decisions.Add($"public keys: union of ovf-env.xml ({ovf.PublicKeys.Count}) and IMDS ({imds.Compute.PublicKeys.Count}), duplicates dropped by key identity");
        }

        return new ProvisioningData(vmId, user, password, disablePassword, host, keys, decisions);
    }

    private static void Disagree(List<string> decisions, string field, string imdsValue, string ovfValue)
    {
        if (!string.Equals(imdsValue, ovfValue, StringComparison.Ordinal))
        {
            decisions.Add($"IMDS {field} '{NameRules.Printable(imdsValue)}' differs from ovf-env.xml's '{NameRules.Printable(ovfValue)}'; ovf-env.xml wins");
        }
    }

    private static string Lower(bool value) => value ? "true" : "false";
}
