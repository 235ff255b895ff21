using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Latch.Agent.Config;
using Latch.Agent.Guard;
using Latch.Agent.Guard.Install;
using Latch.Agent.Os;
using Latch.Agent.Provisioning;
using Latch.Agent.Status;
using Microsoft.Extensions.Logging.Abstractions;

namespace Latch.Agent.Commands;

/// <summary><c>latchd status [--json]</c>: provisioning, the guard's modes, the Key Vault pull and the managed keys in one view.</summary>
internal static class StatusCommand
{
    public const int Healthy = 0;
    public const int NeedsAttention = 1;
    public const int Usage = 2;

    public const string Description =
        "Show provisioning (marker, VM id), the key guard's modes, the Key Vault pull and the managed keys per user. " +
        "Exit codes: 0 healthy, 1 something needs attention (listed under 'problems'), 2 bad usage or configuration.";

    public static Command Create(Option<string?> config)
    {
        var json = new Option<bool>("--json") { Description = "Print the report as JSON (snake_case fields; 'problems' empty when healthy)" };
        var status = new Command("status", Description);
        status.Options.Add(json);
        GuardCommands.AddConfig(status, config);
        status.SetAction((parse, ct) => RunAsync(parse.GetValue(config), parse.GetValue(json), parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error, TimeProvider.System, ct));
        return status;
    }

    /// <param name="layout">Where the guard's files and sshd are; the real paths unless a test says otherwise.</param>
    internal static async Task<int> RunAsync(string? configPath, bool json, TextWriter output, TextWriter error, TimeProvider time, CancellationToken cancellationToken, GuardLayout? layout = null)
    {
        GuardConfig guard;
        AgentConfig agent;
        try
        {
            guard = GuardCommands.LoadConfig(configPath);
            agent = ConfigLoader.Load(configPath, "/");
        }
        catch (Exception e) when (e is GuardConfigException or ConfigException)
        {
            await error.WriteLineAsync("latchd: " + e.Message).ConfigureAwait(false);
            return Usage;
        }

        layout ??= new GuardLayout { StoreDir = guard.StoreDirectory };
        var state = new StateStore(new HostSystem("/", NullLogger.Instance), agent.StateDirectory);
        StatusReport report;
        try
        {
            report = await new AgentStatus(state, layout.WaagentLib, guard, layout, time).CollectAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (UnauthorizedAccessException e)
        {
            await error.WriteLineAsync($"latchd: status reads root-only files ({e.Message}); run it as root").ConfigureAwait(false);
            return Usage;
        }

        if (json)
        {
            await output.WriteLineAsync(JsonSerializer.Serialize(report, StatusJsonContext.Default.StatusReport)).ConfigureAwait(false);
        }
        else
        {
            await WriteTextAsync(report, output).ConfigureAwait(false);
        }

        return report.Problems.Count == 0 ? Healthy : NeedsAttention;
    }

    internal static async Task WriteTextAsync(StatusReport report, TextWriter output)
    {
        var p = report.Provisioning;
        await output.WriteLineAsync("provisioned: " + (p.Provisioned
            ? $"yes, VM {p.VmId}" + (p.User is null ? "" : $", user {p.User}") + (p.ProvisionedAt is { } at ? $", at {Time(at)}" : "") + $" ({p.Marker})"
            : $"no ({p.Marker} missing)") + (p.ProvisionedByWaagent ? "; waagent's marker is present" : "")).ConfigureAwait(false);

        var g = report.Guard;
        await output.WriteLineAsync($"AuthorizedKeysCommand: {g.AuthorizedKeysCommand}" + (g.SshdAuthorizedKeysCommand is { } c ? $" (sshd: {c})" : "")).ConfigureAwait(false);
        await output.WriteLineAsync("other writers quieted: " + (g.QuietedOthers.Count == 0 ? "no" : string.Join(", ", g.QuietedOthers))).ConfigureAwait(false);
        await output.WriteLineAsync("file guard: " + (g.FileGuard is { } f
            ? $"running, {f.Mode}, {f.Users} user(s), {f.Restores} restore(s), {f.Refusals} refusal(s)" + (f.LastRestore is { } last ? $", last restore {Time(last)}" : "")
            : "not running (no daemon answers on the control socket)")).ConfigureAwait(false);

        var k = report.KeyVault;
        await output.WriteLineAsync("key vault: " + (!k.Configured && k.From is null ? "not configured"
            : k.From is null ? $"{k.Vault}: no pull yet"
            : $"{k.Vault} ({(k.From == "daemon" ? "the daemon" : "last pull, no daemon running")}): "
                + (k.UsingLastKnownGood ? $"USING THE LAST KNOWN GOOD KEYS since {Time(k.LastAttempt)}: {k.LastError}" : $"ok at {Time(k.LastSuccess)}, {k.Keys} key(s)")
                + (k.UsingLastKnownGood && k.LastSuccess is { } ok ? $"; last success {Time(ok)}" : ""))).ConfigureAwait(false);

        if (report.Users.Count == 0)
        {
            await output.WriteLineAsync("managed keys: none").ConfigureAwait(false);
        }

        foreach (var u in report.Users)
        {
            await output.WriteLineAsync($"managed keys of {u.User}: " + (u.Problem is { } problem
                ? "UNUSABLE: " + problem
                : $"{u.Valid} valid, {u.Expired} expired, {u.NotYetValid} not yet valid, {u.Retired} retired")).ConfigureAwait(false);
        }

        await output.WriteLineAsync(report.Problems.Count == 0 ? "healthy" : "problems:").ConfigureAwait(false);
        foreach (var problem in report.Problems)
        {
            await output.WriteLineAsync("  " + problem).ConfigureAwait(false);
        }
    }

    private static string Time(DateTimeOffset? at) => at?.ToString("u", CultureInfo.InvariantCulture) ?? "-";
}
