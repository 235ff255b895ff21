using System.Text.Json.Serialization;
using Latch.Agent.Guard.Watch;
using Latch.Agent.KeyStore;
using Latch.Agent.KeyVaultPull;
using Microsoft.Extensions.Logging;

namespace Latch.Agent.Guard;

/// <summary>Everything the running guard reports over the control socket.</summary>
internal sealed record GuardServiceStatus(
    [property: JsonPropertyName("file_guard")] FileGuardStatus FileGuard,
    [property: JsonPropertyName("keyvault")] KeyVaultStatus? KeyVault);

/// <summary>The answer to a refresh request.</summary>
internal sealed record RefreshAnswer(
    [property: JsonPropertyName("changed_users")] IReadOnlyList<string> ChangedUsers,
    [property: JsonPropertyName("keyvault")] KeyVaultStatus? KeyVault);

[JsonSourceGenerationOptions(WriteIndented = false, PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(GuardServiceStatus))]
[JsonSerializable(typeof(RefreshAnswer))]
[JsonSerializable(typeof(KeyVaultStatus))]
internal sealed partial class GuardStatusJsonContext : JsonSerializerContext;

/// <summary>
/// The key guard as a service: the file guard on its own thread, the Key Vault poll loop (when configured) and the
/// root-only control socket. <c>latchd guard watch</c> runs it in the foreground; <c>latchd run</c> hosts the same
/// object next to provisioning (call <see cref="RunAsync"/>).
/// </summary>
internal sealed class GuardService : IDisposable
{
    private readonly GuardConfig _config;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly KeyStoreFiles _store;
    private readonly FileGuard _guard;
    private readonly KeyVaultPuller? _puller;

    public GuardService(GuardConfig config, ILogger logger, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(config);
        _config = config;
        _logger = logger;
        _time = time;
        _store = new KeyStoreFiles(config.StoreDirectory);
        Directory.CreateDirectory(_store.Directory);
        _guard = new FileGuard(_store, new UserAccounts(config.PasswdFile), new KeyRestorer(new AuditLog(config.AuditLog), logger, time), config.Watch, logger, time);
        // KeyVaultPuller.IsSupported first: latchd-guard's trimmer drops the puller only where the switch guards it
        _puller = KeyVaultPuller.IsSupported && config.KeyVault.VaultUrl is not null ? new KeyVaultPuller(config.KeyVault, _store, logger, time, config.KeyVaultStatusFile) : null;
    }

    public GuardServiceStatus Status => new(_guard.Status, _puller?.Status);

    /// <summary>Runs until cancelled; <paramref name="ready"/> completes once the first full check is done and the socket listens.</summary>
    public async Task RunAsync(CancellationToken cancellationToken, TaskCompletionSource? ready = null)
    {
        using var started = new ManualResetEventSlim();
        var guardThread = new Thread(() => _guard.Run(cancellationToken, started)) { IsBackground = true, Name = "latchd file guard" };
        guardThread.Start();
        using var socket = new ControlSocket(_config.Socket, this, _logger);
        var listening = socket.RunAsync(cancellationToken);
        await Task.Run(() => started.Wait(cancellationToken), cancellationToken).ConfigureAwait(false);
        ready?.TrySetResult();
        var polling = KeyVaultPuller.IsSupported && _puller is not null ? PollAsync(cancellationToken) : Task.CompletedTask;
        try
        {
            await Task.WhenAll(listening, polling).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }

        guardThread.Join(TimeSpan.FromSeconds(5));
    }

    /// <summary>
    /// <c>latchd run</c>'s hook: the guard with /etc/latch/latchd.toml's settings until cancelled. A configuration the
    /// guard cannot use is logged and the daemon keeps running without the guard (provisioning must not depend on it).
    /// </summary>
    public static async Task RunInDaemonAsync(ILogger logger, TimeProvider time, CancellationToken cancellationToken)
    {
        GuardConfig config;
        try
        {
            config = GuardConfig.Load(null);
        }
        catch (Exception e) when (e is GuardConfigException or IOException or UnauthorizedAccessException)
        {
            GuardLog.ControlProblem(logger, $"the key guard does not run: {e.Message}");
            await Task.Delay(Timeout.Infinite, cancellationToken).ConfigureAwait(false);
            return;
        }

        using var service = new GuardService(config, logger, time);
        await service.RunAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Pulls from Key Vault now (when configured) and checks every managed user; completes when both are done.</summary>
    public async Task<RefreshAnswer> RefreshAsync(CancellationToken cancellationToken)
    {
        var changed = KeyVaultPuller.IsSupported && _puller is not null ? await _puller.PullAsync(cancellationToken).ConfigureAwait(false) : [];
        await _guard.CheckNowAsync(null, "refresh requested", cancellationToken).ConfigureAwait(false);
        return new RefreshAnswer(changed, _puller?.Status);
    }

    private Task PollAsync(CancellationToken cancellationToken) =>
        new PollSchedule(_config.KeyVault, _time).RunAsync(async ct =>
        {
            var changed = await _puller!.PullAsync(ct).ConfigureAwait(false);
            foreach (var user in changed)
            {
                _guard.RequestCheck(user, "keys changed in Key Vault");
            }

            return _puller.Status.LastError is null;
        }, cancellationToken, delay => GuardLog.StartJitter(_logger, delay.TotalSeconds));

    public void Dispose()
    {
        _guard.Dispose();
        _puller?.Dispose();
    }
}
