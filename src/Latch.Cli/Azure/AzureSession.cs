using System.Text.Json;
using Latch.Azure;

namespace Latch.Cli.Azure;

/// <summary>
/// Everything a command needs to talk to Azure (or latch-emulator): one shared HTTP handler, a token source, the
/// subscription, and the ARM, run-command and Key Vault clients, built on first use. Thread-safe after creation.
/// </summary>
internal sealed class AzureSession : IDisposable
{
    public const string VaultResource = "https://vault.azure.net";

    private readonly CliContext _cli;
    private readonly HttpMessageHandler _handler;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Uri _armBase;
    private readonly Uri? _vaultBase;
    private readonly bool _emulator;
    private string? _subscription;
    private ArmClient? _arm;
    private RunCommandClient? _runCommand;
    private KeyVaultSecretsClient? _vault;

    private AzureSession(CliContext cli, HttpMessageHandler handler, TokenSource tokens, Uri armBase, Uri? vaultBase, string? caPath, bool emulator)
    {
        _cli = cli;
        _handler = handler;
        Tokens = tokens;
        _armBase = armBase;
        _vaultBase = vaultBase;
        CaCertificatePath = caPath;
        _emulator = emulator;
        _subscription = cli.Subscription;
    }

    public TokenSource Tokens { get; }

    public string? CaCertificatePath { get; }

    public bool HasVault => _vaultBase is not null;

    public Uri? VaultAddress => _vaultBase;

    public static async Task<AzureSession> CreateAsync(CliContext cli, CancellationToken cancellationToken = default)
    {
        Uri armBase = ArmClientOptions.DefaultAddress;
        Uri? vaultBase = cli.KeyVault is { } vault ? VaultUri(vault) : null;
        string? caPath = null;
        Uri authority = new("https://login.microsoftonline.com");
        var emulator = cli.EmulatorUrl is not null;
        if (cli.EmulatorUrl is { } control)
        {
            var endpoints = await DiscoverEmulatorAsync(control, cancellationToken).ConfigureAwait(false);
            armBase = new Uri(endpoints.Arm!);
            authority = armBase;
            caPath = endpoints.CaCertificate;
            // one emulated vault answers on the Key Vault listener whatever its name
            vaultBase = endpoints.KeyVault is { Length: > 0 } kv ? new Uri(kv) : null;
        }

        var handler = CliHttp.Create(caPath, cli.Verbose ? cli.Streams.Error : null, cli.Time);
        try
        {
            var tokens = await ChooseTokenSourceAsync(cli, authority, handler, emulator, cancellationToken).ConfigureAwait(false);
            return new AzureSession(cli, handler, tokens, armBase, vaultBase, caPath, emulator);
        }
        catch
        {
            handler.Dispose();
            throw;
        }
    }

    private static Uri VaultUri(string vault) =>
        Uri.TryCreate(vault, UriKind.Absolute, out var uri) && uri.Scheme == "https" ? uri : new Uri($"https://{vault}.vault.azure.net/");

    private static async Task<EmulatorEndpointsWire> DiscoverEmulatorAsync(string control, CancellationToken cancellationToken)
    {
        using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(10) };
        try
        {
            var json = await http.GetByteArrayAsync(new Uri(new Uri(control), "/endpoints"), cancellationToken).ConfigureAwait(false);
            var endpoints = JsonSerializer.Deserialize(json, CliJsonContext.Default.EmulatorEndpointsWire);
            if (endpoints?.Arm is not { Length: > 0 })
            {
                throw new CliException(ExitCodes.Config, $"the emulator at {control} answered /endpoints without an ARM address; is it latch-emulator's control URL?");
            }

            return endpoints;
        }
        catch (Exception e) when (e is HttpRequestException or JsonException or UriFormatException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            throw new CliException(ExitCodes.Config, $"cannot read the emulator's endpoints from {control}/endpoints ({e.Message}). Start latch-emulator and pass its control URL with --emulator or LATCH_EMULATOR.", e);
        }
    }

    private static async Task<TokenSource> ChooseTokenSourceAsync(CliContext cli, Uri authority, HttpMessageHandler handler, bool emulator, CancellationToken cancellationToken)
    {
        var env = cli.Environment;
        var auth = cli.Config.GetString("azure.auth") ?? "auto";
        var clientId = env("AZURE_CLIENT_ID");
        var secret = env("AZURE_CLIENT_SECRET");
        var tenant = cli.Config.GetString("azure.tenant") ?? env("AZURE_TENANT_ID");
        if (auth is "auto" or "environment" && clientId is { Length: > 0 } && secret is { Length: > 0 })
        {
            if (tenant is null && emulator)
            {
                // the emulator's tenant, from its OpenID document once an hour (a round trip before every command)
                var disk = Disk(cli);
                var fact = "tenant " + authority;
                tenant = disk?.TryGetFact(fact);
                if (tenant is null && await DiscoverTenantAsync(authority, handler, cancellationToken).ConfigureAwait(false) is { } discovered)
                {
                    tenant = discovered;
                    disk?.PutFact(fact, discovered);
                }
            }

            if (tenant is null)
            {
                throw new CliException(ExitCodes.Auth, "AZURE_CLIENT_ID and AZURE_CLIENT_SECRET are set but AZURE_TENANT_ID is not; set it (or azure.tenant in the config).");
            }

            return new ClientSecretTokenSource(authority, tenant, clientId, secret, handler) { Disk = Disk(cli) };
        }

        if (auth == "environment" || emulator)
        {
            throw new CliException(ExitCodes.Auth, emulator
                ? "the emulator needs a service principal login: set AZURE_CLIENT_ID and AZURE_CLIENT_SECRET to one of the scenario's service_principals."
                : "azure.auth = \"environment\" needs AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET.");
        }

        if (auth is "auto" or "cli" && Which("az", env) is { } az)
        {
            return new AzureCliTokenSource(az, AzureCliProfileStamp(cli)) { Disk = Disk(cli) };
        }

        if (auth == "cli")
        {
            throw new CliException(ExitCodes.Auth, "azure.auth = \"cli\" but the Azure CLI ('az') is not on PATH; install it and run 'az login'.");
        }

        return new ManagedIdentityTokenSource(new ManagedIdentityCredential(new ImdsClientOptions()));
    }

    private static SessionCache? Disk(CliContext cli) =>
        cli.Config.GetBool("azure.cache_tokens") == false ? null : new SessionCache(cli.Paths.SessionCache, cli.Time);

    private static string? AzureCliProfileStamp(CliContext cli)
    {
        var directory = cli.Environment("AZURE_CONFIG_DIR") is { Length: > 0 } configured ? configured : Path.Combine(cli.Paths.Home, ".azure");
        var profile = new FileInfo(Path.Combine(directory, "azureProfile.json"));
        return profile.Exists ? $"{profile.LastWriteTimeUtc.Ticks}-{profile.Length}" : null;
    }

    private static async Task<string?> DiscoverTenantAsync(Uri authority, HttpMessageHandler handler, CancellationToken cancellationToken)
    {
        // the emulator's OpenID document for "common" names its one tenant in the issuer: {authority}/{tenant}/v2.0
        using var http = new HttpClient(handler, disposeHandler: false) { Timeout = TimeSpan.FromSeconds(30) };
        try
        {
            var json = await http.GetByteArrayAsync(new Uri(authority, "/common/v2.0/.well-known/openid-configuration"), cancellationToken).ConfigureAwait(false);
            var issuer = JsonSerializer.Deserialize(json, CliJsonContext.Default.OpenIdConfigurationWire)?.Issuer;
            var segments = issuer is null ? [] : new Uri(issuer).Segments;
            return segments.Length >= 2 ? segments[1].TrimEnd('/') : null;
        }
        catch (Exception e) when (e is HttpRequestException or JsonException or UriFormatException)
        {
            return null;
        }
        catch (TaskCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new CliException(ExitCodes.Azure, $"the emulator's sign-in endpoint {authority} did not answer within 30 s; is latch-emulator running (and this machine not overloaded)?", e);
        }
    }

    internal static string? Which(string name, Func<string, string?> env)
    {
        foreach (var dir in (env("PATH") ?? "/usr/bin:/bin").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(dir, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    private ArmClientOptions ArmOptions => new()
    {
        BaseAddress = _armBase,
        Handler = _handler,
        TimeProvider = _cli.Time,
        PollInterval = _emulator ? TimeSpan.FromMilliseconds(20) : TimeSpan.FromSeconds(2),
        Retry = new RetryOptions { MaxAttempts = 4, InitialDelay = TimeSpan.FromMilliseconds(500), MaxDelay = TimeSpan.FromSeconds(10), TotalDeadline = TimeSpan.FromSeconds(90) },
    };

    public ArmClient Arm => LazyInitializer.EnsureInitialized(ref _arm, () => new ArmClient(ArmOptions, ct => Tokens.GetTokenAsync(ArmClient.Resource, ct)));

    public RunCommandClient RunCommand => LazyInitializer.EnsureInitialized(ref _runCommand, () => new RunCommandClient(ArmOptions, ct => Tokens.GetTokenAsync(ArmClient.Resource, ct)));

    public KeyVaultSecretsClient Vault => _vaultBase is null
        ? throw new CliException(ExitCodes.Config, "no Key Vault is configured: set azure.key_vault (latch config set azure.key_vault NAME).")
        : LazyInitializer.EnsureInitialized(ref _vault, () => new KeyVaultSecretsClient(
            new KeyVaultSecretsClientOptions(_vaultBase)
            {
                Handler = _handler,
                TimeProvider = _cli.Time,
                VerifyChallengeResource = !_emulator,
                Retry = new RetryOptions { MaxAttempts = 3, InitialDelay = TimeSpan.FromMilliseconds(300), MaxDelay = TimeSpan.FromSeconds(5), TotalDeadline = TimeSpan.FromSeconds(30) },
            },
            (resource, ct) => Tokens.GetTokenAsync(resource, ct)));

    /// <summary>True when the subscription came from the session cache rather than from config or this run's listing.</summary>
    public bool SubscriptionFromCache { get; private set; }

    private string? SubscriptionFact => Tokens.Identity is { } identity ? $"subscription {identity} {_armBase}" : null;

    /// <summary>Drops a cached subscription that did not work (deleted, or access lost): the next call lists again.</summary>
    public void ForgetCachedSubscription()
    {
        if (SubscriptionFromCache && SubscriptionFact is { } fact)
        {
            Disk(_cli)?.RemoveFact(fact);
            _subscription = _cli.Subscription;
            SubscriptionFromCache = false;
        }
    }

    /// <summary>
    /// The configured subscription, else the only one the identity can see: listed once, then kept an hour in the session
    /// cache (a round trip before every command otherwise); a cached one that fails is forgotten (see VmResolver).
    /// </summary>
    public async Task<string> GetSubscriptionAsync(CancellationToken cancellationToken = default)
    {
        if (_subscription is not null)
        {
            return _subscription;
        }

        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_subscription is null && SubscriptionFact is { } cachedFact && Disk(_cli)?.TryGetFact(cachedFact) is { } cached)
            {
                _subscription = cached;
                SubscriptionFromCache = true;
            }

            if (_subscription is null)
            {
                var token = await Tokens.GetTokenAsync(ArmClient.Resource, cancellationToken).ConfigureAwait(false);
                using var http = new HttpClient(_handler, disposeHandler: false) { BaseAddress = _armBase, Timeout = TimeSpan.FromSeconds(30) };
                using var request = new HttpRequestMessage(HttpMethod.Get, "/subscriptions?api-version=2022-12-01");
                request.Headers.Authorization = new("Bearer", token.Token.Reveal());
                using var response = await http.SendAsync(request, cancellationToken).ConfigureAwait(false);
                var body = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
                if (!response.IsSuccessStatusCode)
                {
                    throw new CliException(ExitCodes.Azure, $"listing subscriptions failed (HTTP {(int)response.StatusCode}); set azure.subscription or AZURE_SUBSCRIPTION_ID.");
                }

                using var document = JsonDocument.Parse(body);
                var ids = document.RootElement.TryGetProperty("value", out var value)
                    ? value.EnumerateArray().Select(s => s.TryGetProperty("subscriptionId", out var id) ? id.GetString() : null).OfType<string>().ToList()
                    : [];
                _subscription = ids.Count switch
                {
                    1 => ids[0],
                    0 => throw new CliException(ExitCodes.NotFound, "the signed-in identity sees no subscription; grant it a role on one, or set azure.subscription."),
                    _ => throw new CliException(ExitCodes.Config, $"the signed-in identity sees {ids.Count} subscriptions; choose one with --subscription or 'latch config set azure.subscription ID'."),
                };
                if (SubscriptionFact is { } fact)
                {
                    Disk(_cli)?.PutFact(fact, _subscription);
                }
            }

            return _subscription;
        }
        finally
        {
            _gate.Release();
        }
    }

    public void Dispose()
    {
        _arm?.Dispose();
        _runCommand?.Dispose();
        _vault?.Dispose();
        _handler.Dispose();
        _gate.Dispose();
    }
}
