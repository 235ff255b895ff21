using System.Globalization;
using System.Text.Json;

namespace Latch.Rig;

/// <summary>
/// latch-emulator running as a process inside an <see cref="AzureHost"/>'s namespace (started with
/// `ip netns exec`, tracked by pid). Its control API is reached from the test process through sockets
/// opened in that namespace.
/// </summary>
internal sealed class EmulatorProcess : IAsyncDisposable
{
    /// <summary>The HostGAPlugin's port; it shares the WireServer's address, as on Azure.</summary>
    public const int HostGaPluginPort = 32526;
    public const int ArmPort = 8080;
    public const int ControlPort = 8081;
    public const int KeyVaultPort = 8443;
    private static readonly SemaphoreSlim s_buildGate = new(1, 1);
    private readonly HttpClient _http;

    private EmulatorProcess(TrackedProcess process, HttpClient http, IReadOnlyList<string> endpoints)
    {
        Process = process;
        _http = http;
        Endpoints = endpoints;
    }

    public TrackedProcess Process { get; }

    private static readonly HashSet<string> EndpointNames = ["imds", "wireserver", "hostgaplugin", "keyvault", "arm", "control", "ca", "state", "media"];

    /// <summary>The lines the emulator printed before "ready": "imds http://…", "control http://…", "ca PATH", "state DIR", ….</summary>
    public IReadOnlyList<string> Endpoints { get; }

    /// <summary>The value of the first endpoint line named <paramref name="name"/> (e.g. "keyvault", "ca"), or null.</summary>
    public string? Endpoint(string name) =>
        Endpoints.Select(l => l.Split(' ', 2)).FirstOrDefault(p => p[0] == name && p.Length == 2)?[1];

    public static Uri ControlUri { get; } = new($"http://{AzureHost.ServicesAddress}:{ControlPort}/");

    /// <summary>ARM and the Entra token endpoint (HTTPS with the emulator's CA, <see cref="CaCertificatePath"/>).</summary>
    public static Uri ArmUri { get; } = new($"https://{AzureHost.ServicesAddress}:{ArmPort}/");

    public static Uri KeyVaultUri { get; } = new($"https://{AzureHost.ServicesAddress}:{KeyVaultPort}/");

    /// <summary>The PEM file of the CA behind the ARM and Key Vault certificates (the emulator's "ca" line).</summary>
    public string CaCertificatePath => Endpoint("ca") ?? throw new RigException("the emulator printed no 'ca' line");

    internal static async Task<EmulatorProcess> StartAsync(
        AzureHost host, string scenarioPath, string stateDir, IReadOnlyList<string> extraArguments, CancellationToken cancellationToken)
    {
        var dll = await LocateAsync(cancellationToken);
        var dotnet = LocateDotnet();
        var environment = new Dictionary<string, string>(Command.VmEnvironment)
        {
            ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1",
            ["DOTNET_NOLOGO"] = "1",
        };
        if (Environment.GetEnvironmentVariable("DOTNET_ROOT") is { Length: > 0 } root)
        {
            environment["DOTNET_ROOT"] = root;
        }

        var process = TrackedProcess.Start(
            "latch-emulator",
            [
                "ip", "netns", "exec", host.Namespace, dotnet, dll,
                "--scenario", scenarioPath,
                "--imds", $"{AzureHost.ImdsAddress}:80",
                "--wireserver", $"{AzureHost.WireServerAddress}:80",
                "--hostgaplugin", $"{AzureHost.WireServerAddress}:{HostGaPluginPort}",
                "--keyvault", $"{AzureHost.ServicesAddress}:{KeyVaultPort}",
                "--arm", $"{AzureHost.ServicesAddress}:{ArmPort}",
                "--control", $"{AzureHost.ServicesAddress}:{ControlPort}",
                "--state-dir", stateDir,
                .. extraArguments,
            ],
            environment);
        try
        {
            await process.WaitForLineAsync(l => l.Trim() == "ready", TimeSpan.FromSeconds(60), cancellationToken);
            // stdout and stderr share the log: keep only the endpoint lines the CLI prints before "ready"
            var endpoints = process.Log.Split('\n')
                .TakeWhile(l => l.Trim() != "ready")
                .Where(l => EndpointNames.Contains(l.Split(' ')[0]))
                .ToList();
            return new EmulatorProcess(process, host.CreateHttpClient(), endpoints);
        }
        catch
        {
            await process.DisposeAsync();
            throw;
        }
    }

    /// <summary>GET /vms/{name}/health-reports from the control API: the health reports the VM posted, oldest first.</summary>
    public Task<JsonElement> GetHealthReportsAsync(string vmName, CancellationToken cancellationToken = default) =>
        GetControlAsync($"vms/{Uri.EscapeDataString(vmName)}/health-reports", cancellationToken);

    /// <summary>GET /vms/{name}/health-observations: what the VM's waagent posted to the WireServer's /HealthService.</summary>
    public Task<JsonElement> GetHealthObservationsAsync(string vmName, CancellationToken cancellationToken = default) =>
        GetControlAsync($"vms/{Uri.EscapeDataString(vmName)}/health-observations", cancellationToken);

    /// <summary>GET /requests[?group=…]: the requests the emulator saw (group, method, path, status, remote), oldest first.</summary>
    public Task<JsonElement> GetRequestsAsync(string? group = null, CancellationToken cancellationToken = default) =>
        GetControlAsync(group is null ? "requests" : $"requests?group={Uri.EscapeDataString(group)}", cancellationToken);

    /// <summary>POST /vms/{name}/media: the emulator writes the VM's ovf-env.xml (and an ISO when it can); returns ovf-env.xml's host path.</summary>
    public async Task<string> WriteMediaAsync(string vmName, CancellationToken cancellationToken = default)
    {
        using var response = await _http.PostAsync(new Uri(ControlUri, $"vms/{Uri.EscapeDataString(vmName)}/media"), null, cancellationToken);
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw new RigException($"control API POST /vms/{vmName}/media answered {(int)response.StatusCode}: {body}");
        }

        using var document = JsonDocument.Parse(body);
        return TryGet(document.RootElement, "ovfEnvPath", out var path) && path.GetString() is { Length: > 0 } value
            ? value
            : throw new RigException($"control API POST /vms/{vmName}/media returned no ovfEnvPath: {body}");
    }

    private async Task<JsonElement> GetControlAsync(string relative, CancellationToken cancellationToken)
    {
        using var response = await _http.GetAsync(new Uri(ControlUri, relative), cancellationToken);
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw new RigException($"control API GET /{relative} answered {(int)response.StatusCode}: {body}");
        }

        using var document = JsonDocument.Parse(body);
        return document.RootElement.Clone();
    }

    /// <summary>Polls the control API until the VM has posted a health report in <paramref name="state"/>; returns it.</summary>
    public async Task<JsonElement> WaitForHealthStateAsync(string vmName, string state, TimeSpan deadline, CancellationToken cancellationToken = default)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(deadline);
        var last = default(JsonElement);
        try
        {
            while (true)
            {
                last = await GetHealthReportsAsync(vmName, timeout.Token);
                foreach (var report in Reports(last))
                {
                    if (string.Equals(StateOf(report), state, StringComparison.OrdinalIgnoreCase))
                    {
                        return report;
                    }
                }

                await Task.Delay(250, timeout.Token);
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new RigException(
                $"{vmName} posted no {state} health report within {deadline.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s; " +
                $"reports so far: {(last.ValueKind == JsonValueKind.Undefined ? "none" : last.GetRawText())}\nemulator output:\n{Process.Log}");
        }
    }

    /// <summary>The reports array, whether the API returns it bare or as {"reports": [...]}.</summary>
    public static IEnumerable<JsonElement> Reports(JsonElement body) =>
        body.ValueKind switch
        {
            JsonValueKind.Array => body.EnumerateArray(),
            JsonValueKind.Object when TryGet(body, "reports", out var reports) && reports.ValueKind == JsonValueKind.Array => reports.EnumerateArray(),
            _ => [],
        };

    public static string? StateOf(JsonElement report) =>
        report.ValueKind == JsonValueKind.Object && TryGet(report, "state", out var state) && state.ValueKind == JsonValueKind.String
            ? state.GetString()
            : null;

    private static bool TryGet(JsonElement element, string name, out JsonElement value)
    {
        foreach (var property in element.EnumerateObject())
        {
            if (string.Equals(property.Name, name, StringComparison.OrdinalIgnoreCase))
            {
                value = property.Value;
                return true;
            }
        }

        value = default;
        return false;
    }

    /// <summary>The dotnet host: the one running `dotnet test`, else the first on PATH, else $DOTNET_ROOT/dotnet.</summary>
    internal static string LocateDotnet()
    {
        string?[] candidates =
        [
            Environment.GetEnvironmentVariable("DOTNET_HOST_PATH"),
            RepoPaths.Which("dotnet"),
            Environment.GetEnvironmentVariable("DOTNET_ROOT") is { Length: > 0 } root ? Path.Combine(root, "dotnet") : null,
        ];
        return candidates.FirstOrDefault(c => c is { Length: > 0 } && File.Exists(c))
            ?? throw new RigException("no dotnet host found (DOTNET_HOST_PATH, PATH, DOTNET_ROOT): install the .NET SDK or put dotnet on PATH");
    }

    /// <summary>latch-emulator.dll of this checkout (built first when missing), for callers that start it themselves.</summary>
    internal static async Task<string> LocateAsync(CancellationToken cancellationToken = default)
    {
        var framework = Path.GetFileName(AppContext.BaseDirectory.TrimEnd('/'));
        var project = Path.Combine(RepoPaths.Root, "src", "Latch.Emulator");
        var dll = Path.Combine(project, "bin", RepoPaths.Configuration, framework, "latch-emulator.dll");
        if (File.Exists(dll))
        {
            return dll;
        }

        await s_buildGate.WaitAsync(cancellationToken);
        try
        {
            if (!File.Exists(dll))
            {
                await Command.CheckAsync(
                    ["dotnet", "build", project, "-c", RepoPaths.Configuration, "-nologo", "-v", "q"],
                    timeout: TimeSpan.FromMinutes(5),
                    cancellationToken: cancellationToken);
            }
        }
        finally
        {
            s_buildGate.Release();
        }

        return File.Exists(dll) ? dll : throw new RigException($"building src/Latch.Emulator did not produce {dll}");
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        await Process.DisposeAsync();
    }
}
