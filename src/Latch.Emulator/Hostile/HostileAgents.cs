using Latch.Emulator.State;
using Microsoft.Extensions.Logging;

namespace Latch.Emulator.Hostile;

/// <summary>The hostile agents running now, at most one per VM. Thread-safe.</summary>
public sealed class HostileAgents : IAsyncDisposable
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, HostileAgent> _agents = new(StringComparer.OrdinalIgnoreCase);
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private bool _disposed;

    internal HostileAgents(TimeProvider time, ILogger logger)
    {
        _time = time;
        _logger = logger;
    }

    /// <summary>Starts a hostile agent for the VM, replacing (stopping) one that runs already.</summary>
    public async Task<HostileAgent> StartAsync(VmState vm, HostileAgentOptions options)
    {
        ArgumentNullException.ThrowIfNull(vm);
        ArgumentNullException.ThrowIfNull(options);
        if (options.Validate() is { } problem)
        {
            throw new ArgumentException(problem, nameof(options));
        }

        await StopAsync(vm.Name).ConfigureAwait(false);
        var agent = HostileAgent.Start(vm, options, _time, _logger);
        lock (_gate)
        {
            if (!_disposed)
            {
                _agents[vm.Name] = agent;
                return agent;
            }
        }

        await agent.DisposeAsync().ConfigureAwait(false);
        throw new ObjectDisposedException(nameof(HostileAgents));
    }

    public HostileAgent? Get(string vm)
    {
        lock (_gate)
        {
            return _agents.GetValueOrDefault(vm);
        }
    }

    /// <summary>Stops the VM's hostile agent; returns its final status, or null when none ran.</summary>
    public async Task<HostileAgentStatus?> StopAsync(string vm)
    {
        HostileAgent? agent;
        lock (_gate)
        {
            _agents.Remove(vm, out agent);
        }

        if (agent is null)
        {
            return null;
        }

        await agent.DisposeAsync().ConfigureAwait(false);
        return agent.Status;
    }

    public async ValueTask DisposeAsync()
    {
        HostileAgent[] agents;
        lock (_gate)
        {
            _disposed = true;
            agents = [.. _agents.Values];
            _agents.Clear();
        }

        foreach (var agent in agents)
        {
            await agent.DisposeAsync().ConfigureAwait(false);
        }
    }
}
