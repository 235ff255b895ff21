using Microsoft.Extensions.Logging;

namespace Latch.Emulator;

/// <summary>
/// How to run an emulator. Endpoints are <c>ADDRESS:PORT</c> (e.g. <c>169.254.169.254:80</c>); null means
/// <c>127.0.0.1:0</c> (a free loopback port, reported by <see cref="EmulatorHost"/> after start).
/// </summary>
public sealed record EmulatorOptions
{
    public required Scenario Scenario { get; init; }
    public string? ImdsEndpoint { get; init; }
    public string? WireServerEndpoint { get; init; }

    /// <summary>The HostGAPlugin listener (on Azure 168.63.129.16:32526, next to the WireServer).</summary>
    public string? HostGaPluginEndpoint { get; init; }
    public string? KeyVaultEndpoint { get; init; }
    public string? ArmEndpoint { get; init; }
    public string? ControlEndpoint { get; init; }

    /// <summary>Where media, certificates and other files go. Empty: a fresh temporary directory, deleted on dispose.</summary>
    public string StateDirectory { get; init; } = "";

    /// <summary>How long an ARM run-command takes before it completes (real Azure: tens of seconds; default 3 s).</summary>
    public TimeSpan RunCommandLatency { get; init; } = new ArmOptions().RunCommandLatency;

    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>Adds log providers (the command line adds a console logger on stderr). None: the emulator logs nowhere.</summary>
    public Action<ILoggingBuilder>? ConfigureLogging { get; init; }
}
