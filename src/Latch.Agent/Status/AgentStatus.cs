using System.Text.Json;
using System.Text.Json.Serialization;
using Latch.Agent.Guard;
using Latch.Agent.Guard.Install;
using Latch.Agent.Guard.Watch;
using Latch.Agent.KeyStore;
using Latch.Agent.KeyVaultPull;
using Latch.Agent.Provisioning;

namespace Latch.Agent.Status;

/// <summary>Everything <c>latchd status</c> shows; <see cref="Problems"/> empty means healthy (exit 0).</summary>
internal sealed record StatusReport(
    ProvisioningReport Provisioning,
    GuardModesReport Guard,
    KeyVaultReport KeyVault,
    IReadOnlyList<UserKeysReport> Users,
    IReadOnlyList<string> Problems);

/// <summary>latchd's provisioning marker (<c>{state}/provisioned</c> holds the VM id) and waagent's.</summary>
internal sealed record ProvisioningReport(bool Provisioned, string? VmId, string? User, DateTimeOffset? ProvisionedAt, string Marker, bool ProvisionedByWaagent);

/// <summary>
/// The guard's modes: the AuthorizedKeysCommand ("active", "installed but not active", "not installed", "unknown" when
/// <c>sshd -T</c> fails), what --quiet-others changed, and the file guard as the running daemon reports it.
/// </summary>
internal sealed record GuardModesReport(
    string AuthorizedKeysCommand,
    string? SshdAuthorizedKeysCommand,
    string? SshdError,
    IReadOnlyList<string> QuietedOthers,
    bool FileGuardRunning,
    FileGuardStatus? FileGuard);

/// <summary>
/// The Key Vault pull. <see cref="From"/>: "daemon" (live), "last pull" (the record the last pull left, the daemon not
/// running), or null (not configured, or never pulled).
/// </summary>
internal sealed record KeyVaultReport(
    bool Configured,
    string? Vault,
    string? From,
    DateTimeOffset? LastAttempt,
    DateTimeOffset? LastSuccess,
    string? LastError,
    bool UsingLastKnownGood,
    int Keys);

/// <summary>A user's managed keys by state; <see cref="Problem"/> when the store file cannot be used.</summary>
internal sealed record UserKeysReport(string User, int Valid, int Expired, int NotYetValid, int Retired, string? Problem);

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(StatusReport))]
internal sealed partial class StatusJsonContext : JsonSerializerContext;

/// <summary>Collects a <see cref="StatusReport"/> from local files, <c>sshd -T</c> and the daemon's control socket (no network).</summary>
internal sealed class AgentStatus(StateStore state, string waagentLib, GuardConfig guard, GuardLayout layout, TimeProvider time)
{
    public async Task<StatusReport> CollectAsync(CancellationToken cancellationToken = default)
    {
        var problems = new List<string>();
        var provisioning = Provisioning();

        var effective = await new GuardInstaller(layout, TextWriter.Null).EffectiveAsync(cancellationToken).ConfigureAwait(false);
        var dropIn = File.Exists(layout.DropInPath);
        var akc = effective.Error is not null ? "unknown"
            : effective.Command == layout.CommandLine ? "active"
            : dropIn ? "installed but not active"
            : "not installed";
        if (effective.Error is not null)
        {
            problems.Add($"'{layout.Sshd} -T' failed, so whether sshd asks latch-akc is unknown: {effective.Error}");
        }
        else if (akc == "installed but not active")
        {
            problems.Add($"{layout.DropInPath} exists but sshd's AuthorizedKeysCommand is '{effective.Command}'; run 'latchd guard install' again");
        }

        var answer = await ControlSocket.RequestAsync(guard.Socket, "status", TimeSpan.FromSeconds(10), cancellationToken).ConfigureAwait(false);
        var live = answer is null ? null : JsonSerializer.Deserialize(answer, GuardStatusJsonContext.Default.GuardServiceStatus);
        if (live?.FileGuard is { FallbackReason: { } reason } fileGuard)
        {
            problems.Add($"the file guard polls {string.Join(", ", fileGuard.PolledUsers)} instead of watching: {reason}");
        }

        var modes = new GuardModesReport(akc, effective.Command, effective.Error, new QuietOthers(layout, TextWriter.Null).Applied(), live is not null, live?.FileGuard);
        var keyVault = KeyVault(live?.KeyVault);
        if (keyVault.UsingLastKnownGood)
        {
            problems.Add($"Key Vault {keyVault.Vault} failed at {keyVault.LastAttempt:u}; the last known good keys stay: {keyVault.LastError}");
        }

        var users = Users();
        problems.AddRange(users.Where(u => u.Problem is not null).Select(u => $"the managed keys of {u.User} are unusable: {u.Problem}"));
        return new StatusReport(provisioning, modes, keyVault, users, problems);
    }

    private ProvisioningReport Provisioning()
    {
        var vmId = state.ReadMarker();
        ProvisioningState? saved = null;
        try
        {
            saved = vmId is null ? null : state.ReadState();
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            // state.json is root's (0600): without root the marker alone says provisioned, not who or when
        }

        return new ProvisioningReport(vmId is not null, vmId, saved?.UserName, saved?.ProvisionedAt, state.MarkerPath, File.Exists(waagentLib + "/provisioned"));
    }

    private KeyVaultReport KeyVault(KeyVaultStatus? live)
    {
        var configured = guard.KeyVault.VaultUrl is not null;
        var status = live ?? KeyVaultStatusFile.Read(guard.KeyVaultStatusFile);
        var from = live is not null ? "daemon" : status is not null ? "last pull" : null;
        return status is null
            ? new KeyVaultReport(configured, guard.KeyVault.VaultUrl?.ToString(), null, null, null, null, false, 0)
            : new KeyVaultReport(configured, status.Vault, from, status.LastAttempt, status.LastSuccess, status.LastError, status.UsingLastKnownGood, status.Keys);
    }

    private List<UserKeysReport> Users()
    {
        var store = new KeyStoreFiles(guard.StoreDirectory);
        var now = time.GetUtcNow();
        var users = new List<UserKeysReport>();
        foreach (var user in store.Users())
        {
            var read = store.Read(user);
            if (read.Document is not { } document)
            {
                users.Add(new UserKeysReport(user, 0, 0, 0, 0, read.Problem ?? read.Status.ToString()));
                continue;
            }

            users.Add(new UserKeysReport(
                user,
                document.Keys.Count(k => k.IsValidAt(now)),
                document.Keys.Count(k => k.ExpiresOn is { } exp && exp <= now),
                document.Keys.Count(k => k.NotBefore is { } nbf && now < nbf && (k.ExpiresOn is not { } exp || now < exp)),
                document.Retired.Count,
                null));
        }

        return users;
    }
}
