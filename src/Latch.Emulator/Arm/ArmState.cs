namespace Latch.Emulator;

/// <summary>A failed ARM request: status and Azure's error code and message.</summary>
internal sealed record ArmError(int Status, string Code, string Message);

internal enum RunCommandStatus
{
    InProgress,
    Succeeded,
    Failed,
}

/// <summary>One run-command invocation, queryable through its async-operation and Location URLs.</summary>
internal sealed class RunCommandOperation(string id, VmDefinition vm, DateTimeOffset started)
{
    private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public string Id { get; } = id;
    public VmDefinition Vm { get; } = vm;
    public DateTimeOffset StartTime { get; } = started;
    public DateTimeOffset? EndTime { get; private set; }
    public RunCommandOutcome? Outcome { get; private set; }
    public ArmError? Error { get; private set; }

    public RunCommandStatus Status => Outcome is not null ? RunCommandStatus.Succeeded : Error is not null ? RunCommandStatus.Failed : RunCommandStatus.InProgress;

    /// <summary>Completes when the script has finished (or failed to run).</summary>
    public Task Completion => _done.Task;

    internal void Finish(RunCommandOutcome? outcome, ArmError? error, DateTimeOffset ended)
    {
        Outcome = outcome;
        Error = error;
        EndTime = ended;
        _done.TrySetResult();
    }
}

/// <summary>
/// The emulated subscription's ARM state: resource groups, VMs (with their network resources) from the scenario,
/// and run-command operations. One run-command at a time per VM, as on Azure. Dispose kills running scripts.
/// </summary>
internal sealed class ArmState(Scenario scenario, ArmOptions options, TimeProvider time) : IAsyncDisposable
{
    public const string RunShellScript = "RunShellScript";

    private static readonly string[] s_windowsCommands = ["RunPowerShellScript", "EnableAdminAccount", "EnableRemotePS", "IPConfig", "RDPSettings", "ResetRDPCert", "SetRDPPort", "EnableWindowsUpdate", "DisableWindowsUpdate", "DisableNLA"];

    private readonly Lock _gate = new();
    private readonly Dictionary<string, RunCommandOperation> _operations = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, RunCommandOperation> _runningByVm = new(StringComparer.OrdinalIgnoreCase);
    private readonly Queue<RunCommandOperation> _finished = new();
    private readonly CancellationTokenSource _shutdown = new();
    private readonly List<Task> _running = [];

    public Scenario Scenario => scenario;
    public ArmOptions Options => options;
    public TimeProvider Time => time;

    /// <summary>Resource groups named by the scenario's VMs and vaults, with the location of their first VM.</summary>
    public IReadOnlyList<(string Name, string Location)> ResourceGroups =>
        [.. scenario.Vms.Select(v => (v.ResourceGroup, v.Location))
            .Concat(scenario.Vaults.Select(v => (v.ResourceGroup, scenario.Vms.FirstOrDefault()?.Location ?? "westeurope")))
            .DistinctBy(g => g.Item1, StringComparer.OrdinalIgnoreCase)];

    public bool TryFindResourceGroup(string name, out (string Name, string Location) group)
    {
        group = ResourceGroups.FirstOrDefault(g => string.Equals(g.Name, name, StringComparison.OrdinalIgnoreCase));
        return group.Name is not null;
    }

    public VmDefinition? FindVm(string resourceGroup, string name) => scenario.Vms.FirstOrDefault(v =>
        string.Equals(v.ResourceGroup, resourceGroup, StringComparison.OrdinalIgnoreCase) && string.Equals(v.Name, name, StringComparison.OrdinalIgnoreCase));

    public IEnumerable<VmDefinition> VmsIn(string? resourceGroup) =>
        scenario.Vms.Where(v => resourceGroup is null || string.Equals(v.ResourceGroup, resourceGroup, StringComparison.OrdinalIgnoreCase));

    public RunCommandOperation? FindOperation(string id)
    {
        lock (_gate)
        {
            return _operations.GetValueOrDefault(id);
        }
    }

    /// <summary>Starts a run-command on a VM; the script runs in the background after <see cref="ArmOptions.RunCommandLatency"/>.</summary>
    public bool TryStartRunCommand(VmDefinition vm, RunCommandInputJson input, out RunCommandOperation operation, out ArmError error)
    {
        ArgumentNullException.ThrowIfNull(vm);
        ArgumentNullException.ThrowIfNull(input);
        operation = null!;
        if (string.IsNullOrEmpty(input.CommandId))
        {
            error = new ArmError(400, "InvalidParameter", "The value of parameter commandId is invalid: it is required (use \"RunShellScript\").");
            return false;
        }
        if (s_windowsCommands.Contains(input.CommandId, StringComparer.OrdinalIgnoreCase))
        {
            error = new ArmError(400, "OperationNotAllowed", $"Run command '{input.CommandId}' is for Windows; virtual machine '{vm.Name}' runs Linux. Use RunShellScript.");
            return false;
        }
        if (!string.Equals(input.CommandId, RunShellScript, StringComparison.OrdinalIgnoreCase))
        {
            // what Azure says for a command id it does not know
            error = new ArmError(404, "NotFound", "The entity was not found in this Azure location.");
            return false;
        }
        if (input.Script is not { Count: > 0 })
        {
            error = new ArmError(400, "InvalidParameter", "The value of parameter script is invalid: RunShellScript needs at least one script line.");
            return false;
        }

        lock (_gate)
        {
            if (_shutdown.IsCancellationRequested)
            {
                error = new ArmError(503, "ServiceUnavailable", "The emulator is shutting down.");
                return false;
            }
            if (_runningByVm.ContainsKey(VmKey(vm)))
            {
                error = new ArmError(409, "Conflict", "Run command extension execution is in progress. Please wait for completion before invoking a run command.");
                return false;
            }
            operation = new RunCommandOperation(Guid.NewGuid().ToString(), vm, time.GetUtcNow());
            _operations[operation.Id] = operation;
            _runningByVm[VmKey(vm)] = operation;
            var started = operation;
            _running.Add(Task.Run(() => RunAsync(started, input, _shutdown.Token)));
            _running.RemoveAll(t => t.IsCompleted);
        }
        error = null!;
        return true;
    }

    private async Task RunAsync(RunCommandOperation operation, RunCommandInputJson input, CancellationToken cancellationToken)
    {
        RunCommandOutcome? outcome = null;
        ArmError? error = null;
        try
        {
            if (options.RunCommandLatency > TimeSpan.Zero)
            {
                await Task.Delay(options.RunCommandLatency, time, cancellationToken).ConfigureAwait(false);
            }
            outcome = await RunCommandRunner.RunAsync(operation.Vm.Exec, input.Script!, input.Parameters ?? [], options.RunCommandTimeout, time, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            error = new ArmError(500, "OperationCanceled", "The emulator shut down while the run command was in progress.");
        }
        catch (IOException e)
        {
            error = new ArmError(500, "InternalExecutionError", $"The run command could not be prepared: {e.Message}");
        }
        lock (_gate)
        {
            operation.Finish(outcome, error, time.GetUtcNow());
            _runningByVm.Remove(VmKey(operation.Vm));
            _finished.Enqueue(operation);
            while (_finished.Count > Math.Max(1, options.RetainedOperations))
            {
                _operations.Remove(_finished.Dequeue().Id);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        Task[] running;
        lock (_gate)
        {
            _shutdown.Cancel();
            running = [.. _running];
        }
        await Task.WhenAll(running).ConfigureAwait(false);
        _shutdown.Dispose();
    }

    private static string VmKey(VmDefinition vm) => $"{vm.ResourceGroup}/{vm.Name}";
}
