using System.Collections.Concurrent;
using System.Text;
using Microsoft.Extensions.Logging;

namespace Latch.Emulator.Tests;

/// <summary>Starts a real <see cref="EmulatorHost"/> on 127.0.0.1:0 for one test, with logs captured in memory.</summary>
internal sealed class TestEmulator : IAsyncDisposable
{
    public const string WebKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDPkF5VHRonIwWDx4J8dlx4vadF5+3dWZok5Cb9jWB6b web@test";
    public const string OperatorKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJFg/BIQqU0lgnMOIP6ADbeMYZ+KorcO+kGQhOH7nwZz operator@test";
    public const string DbKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOdmhiGFVXt3ygig8V15U0ChGy5iZAmr3MrhKHSKPIRi db@test";
    public const string Password = "Pa55-word-never-logged";

    private HttpClient? _trusting;

    private TestEmulator(EmulatorHost host, CapturingLoggerProvider logs, string stateDirectory)
    {
        Host = host;
        Logs = logs;
        StateDirectory = stateDirectory;
        Http = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(60) };
    }

    public EmulatorHost Host { get; }
    public CapturingLoggerProvider Logs { get; }
    public string StateDirectory { get; }
    public HttpClient Http { get; }

    /// <summary>A client for the HTTPS listeners that trusts only the CA file the emulator published, as Latch's clients do.</summary>
    public HttpClient TrustingHttp => _trusting ??= new HttpClient(Latch.Testing.EmulatorTesting.TrustingHandler(Host.CaCertificatePath!));

    public static Scenario DefaultScenario(string? hostKeysPath = null, IReadOnlyList<string>? exec = null) => new()
    {
        SubscriptionId = "11111111-2222-4333-8444-555555555555",
        Vms =
        [
            new VmDefinition
            {
                Name = "vm-web",
                ResourceGroup = "rg-test",
                VmId = "0b8e6f0a-1f0c-4c35-9b0e-2f3a4d5e6f70",
                AdminUsername = "azureuser",
                AdminPassword = Password,
                DisablePasswordAuthentication = false,
                PublicKeys = [new(WebKey, "/home/azureuser/.ssh/authorized_keys"), new(OperatorKey, "/home/azureuser/.ssh/authorized_keys")],
                Tags = new Dictionary<string, string> { ["role"] = "web", ["env"] = "test" },
                CustomData = "I2Nsb3VkLWNvbmZpZwo=",
                AuthorizedKeysHostPath = hostKeysPath,
                Exec = exec ?? [],
            },
            new VmDefinition
            {
                Name = "vm-db",
                VmId = "1c9f7a1b-2a1d-4d46-8c1f-3a4b5c6d7e81",
                PublicKeys = [new(DbKey, "/home/azureuser/.ssh/authorized_keys")],
                PrivateIpAddress = "169.254.2.2",
                SourceAddress = "169.254.2.2",
            },
        ],
    };

    public static async Task<TestEmulator> StartAsync(Scenario? scenario = null, TimeProvider? time = null)
    {
        var logs = new CapturingLoggerProvider();
        var directory = Directory.CreateTempSubdirectory("latch-emu-test-").FullName;
        var host = await EmulatorHost.StartAsync(new EmulatorOptions
        {
            Scenario = scenario ?? DefaultScenario(),
            StateDirectory = directory,
            Time = time ?? TimeProvider.System,
            ConfigureLogging = logging => logging.AddProvider(logs),
        }, TestContext.Current.CancellationToken);
        return new TestEmulator(host, logs, directory);
    }

    public Task<HttpResponseMessage> ImdsAsync(string pathAndQuery, bool metadataHeader = true)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, new Uri(Host.Imds, pathAndQuery));
        if (metadataHeader)
        {
            request.Headers.Add("Metadata", "true");
        }

        return Http.SendAsync(request, TestContext.Current.CancellationToken);
    }

    public Task<HttpResponseMessage> PostXmlAsync(string pathAndQuery, string xml)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, new Uri(Host.WireServer, pathAndQuery))
        {
            Content = new StringContent(xml, Encoding.UTF8, "text/xml"),
        };
        request.Headers.Add("x-ms-agent-name", "WALinuxAgent");
        request.Headers.Add("x-ms-version", "2012-11-30");
        return Http.SendAsync(request, TestContext.Current.CancellationToken);
    }

    public Task<HttpResponseMessage> ControlAsync(HttpMethod method, string path, string? json = null)
    {
        var request = new HttpRequestMessage(method, new Uri(Host.Control, path));
        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }

        return Http.SendAsync(request, TestContext.Current.CancellationToken);
    }

    /// <summary>Waits for a condition another thread makes true (e.g. a request record written after the client saw a reset).</summary>
    public static Task EventuallyAsync(Func<bool> condition) => Latch.Testing.EmulatorTesting.EventuallyAsync(condition);

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        _trusting?.Dispose();
        await Host.DisposeAsync();
        Directory.Delete(StateDirectory, recursive: true);
    }
}

/// <summary>Keeps every formatted log line so tests can check what the emulator logs (and never logs).</summary>
internal sealed class CapturingLoggerProvider : ILoggerProvider
{
    private readonly ConcurrentQueue<string> _lines = new();

    public IReadOnlyList<string> Lines => [.. _lines];

    public string All => string.Join('\n', _lines);

    public ILogger CreateLogger(string categoryName) => new Logger(_lines, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(ConcurrentQueue<string> lines, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            lines.Enqueue($"{logLevel} {category}: {formatter(state, exception)} {exception}");
    }
}
