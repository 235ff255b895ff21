using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Latch.Emulator.Faults;
using Latch.Emulator.Hostile;
using Latch.Emulator.Media;
using Latch.Emulator.State;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;

namespace Latch.Emulator.Control;

/// <summary>The control API (JSON, its own listener): inspect and steer the emulated world. Routes: see <see cref="Routes"/>.</summary>
internal static class ControlEndpoints
{
    public const string Routes = """
        GET    /endpoints                      the emulator's URLs, CA path and state directory
        GET    /vms                            every VM: ids, incarnation, keys, last health report, hostile agent
        GET    /vms/{name}                     one VM
        GET    /vms/{name}/health-reports      the VM's health reports (XML comp=health and JSON /provisioning/health)
        GET    /vms/{name}/health-observations waagent's HealthService observations (HostGAPlugin and IMDS heartbeats)
        POST   /vms/{name}/incarnation         start a new goal state (incarnation + 1)
        PUT    /vms/{name}/keys                {"publicKeys":[{"keyData":"ssh-ed25519 ...","path":"/home/u/.ssh/authorized_keys"}]}
                                               replace the keys IMDS publishes; bumps the incarnation
        POST   /vms/{name}/media               write ovf-env.xml (+ ISO when genisoimage/xorriso exist); returns paths
        POST   /vms/{name}/hostile-agent       {"intervalMs":100,"key":"ssh-ed25519 ...","maxRewrites":1000}
        GET    /vms/{name}/hostile-agent       its status (rewrites so far)
        DELETE /vms/{name}/hostile-agent       stop it
        GET    /requests[?group=imds]          requests seen (method, path with secrets masked, status, ms, group, remote)
        GET    /faults                         active faults
        POST   /faults                         {"spec":"imds:status=503,count=3"} or
                                               {"group":"imds","kind":"Throttle","value":2,"pathPrefix":"/metadata","count":1}
        DELETE /faults[?group=imds]            clear all faults (or one group's)
        DELETE /faults/{id}                    clear one fault
        """;

    private static ControlJsonContext Json => ControlJsonContext.Readable;

    public static IEndpointRouteBuilder MapControl(this IEndpointRouteBuilder app, EmulatorState state, Func<EndpointsResponse> endpoints, ILogger logger)
    {
        app.MapGet("/endpoints", () => Ok(endpoints(), Json.EndpointsResponse));
        app.MapGet("/vms", () => Ok<IReadOnlyList<VmSummary>>([.. state.Vms.Select(v => Summary(state, v))], Json.IReadOnlyListVmSummary));
        app.MapGet("/vms/{name}", (string name) => WithVm(state, name, vm => Ok(Summary(state, vm), Json.VmSummary)));
        app.MapGet("/vms/{name}/health-reports", (string name) => WithVm(state, name, vm => Ok(vm.HealthReports, Json.IReadOnlyListHealthReport)));
        app.MapGet("/vms/{name}/health-observations", (string name) => WithVm(state, name, vm => Ok(vm.HealthObservations, Json.IReadOnlyListHealthObservation)));

        app.MapPost("/vms/{name}/incarnation", (string name) => WithVm(state, name, vm =>
        {
            var incarnation = vm.BumpIncarnation();
            Log.IncarnationChanged(logger, vm.Name, incarnation, "control API");
            return Ok(new IncarnationResponse(vm.Name, incarnation), Json.IncarnationResponse);
        }));

        app.MapPut("/vms/{name}/keys", async (HttpContext context, string name) =>
        {
            if (!state.TryGetVm(name, out var vm))
            {
                return NoVm(state, name);
            }

            var (request, error) = await ReadAsync(context, Json.KeysRequest).ConfigureAwait(false);
            if (error is not null)
            {
                return error;
            }

            if (request!.PublicKeys is not { } keys || keys.Any(k => k is null || string.IsNullOrWhiteSpace(k.KeyData)))
            {
                return Problem(400, "the body needs \"publicKeys\": an array of {\"keyData\":\"ssh-ed25519 AAAA...\",\"path\":\"/home/user/.ssh/authorized_keys\"}");
            }

            var normalized = keys.Select(k => k with { Path = string.IsNullOrEmpty(k.Path) ? $"/home/{vm.Definition.AdminUsername}/.ssh/authorized_keys" : k.Path }).ToArray();
            var incarnation = vm.ReplaceKeys(normalized);
            Log.IncarnationChanged(logger, vm.Name, incarnation, $"keys replaced ({normalized.Length})");
            return Ok(Summary(state, vm), Json.VmSummary);
        });

        app.MapPost("/vms/{name}/media", async (HttpContext context, string name) =>
        {
            if (!state.TryGetVm(name, out var vm))
            {
                return NoVm(state, name);
            }

            var paths = await MediaWriter.WriteAsync(vm, state.StateDirectory, logger, context.RequestAborted).ConfigureAwait(false);
            return Ok(paths, Json.MediaPaths);
        });

        app.MapPost("/vms/{name}/hostile-agent", async (HttpContext context, string name) =>
        {
            if (!state.TryGetVm(name, out var vm))
            {
                return NoVm(state, name);
            }

            var (request, error) = await ReadAsync(context, Json.HostileAgentRequest).ConfigureAwait(false);
            if (error is not null)
            {
                return error;
            }

            if (request!.Key is null)
            {
                return Problem(400, "the body needs \"key\" (the one public key line to write) and \"intervalMs\"");
            }

            var options = new HostileAgentOptions(request.Key, request.IntervalMs, request.MaxRewrites ?? HostileAgent.DefaultMaxRewrites);
            if (options.Validate() is { } problem)
            {
                return Problem(400, problem);
            }

            try
            {
                var agent = await state.HostileAgents.StartAsync(vm, options).ConfigureAwait(false);
                return Ok(agent.Status, Json.HostileAgentStatus, 201);
            }
            catch (InvalidOperationException e)
            {
                return Problem(409, e.Message);
            }
        });

        app.MapGet("/vms/{name}/hostile-agent", (string name) => WithVm(state, name, vm =>
            state.HostileAgents.Get(vm.Name) is { } agent ? Ok(agent.Status, Json.HostileAgentStatus) : Problem(404, $"no hostile agent runs for '{vm.Name}'")));

        app.MapDelete("/vms/{name}/hostile-agent", async (string name) =>
        {
            if (!state.TryGetVm(name, out var vm))
            {
                return NoVm(state, name);
            }

            var stopped = await state.HostileAgents.StopAsync(vm.Name).ConfigureAwait(false);
            return stopped is null ? Problem(404, $"no hostile agent runs for '{vm.Name}'") : Ok(stopped, Json.HostileAgentStatus);
        });

        app.MapGet("/requests", (HttpContext context) =>
        {
            var group = context.Request.Query["group"].ToString();
            IReadOnlyList<RequestRecord> requests = group.Length == 0
                ? state.Requests
                : [.. state.Requests.Where(r => string.Equals(r.Group, group, StringComparison.OrdinalIgnoreCase))];
            return Ok(requests, Json.IReadOnlyListRequestRecord);
        });

        app.MapGet("/faults", () => Ok(state.Faults.Active, Json.IReadOnlyListFaultRule));

        app.MapPost("/faults", async (HttpContext context) =>
        {
            var (request, error) = await ReadAsync(context, Json.FaultRequest).ConfigureAwait(false);
            if (error is not null)
            {
                return error;
            }

            FaultRule rule;
            try
            {
                rule = ToRule(request!);
            }
            catch (FormatException e)
            {
                return Problem(400, e.Message);
            }

            state.Faults.Add(rule);
            Log.FaultAdded(logger, rule.ToString());
            return Ok(rule, Json.FaultRule, 201);
        });

        app.MapDelete("/faults", (HttpContext context) =>
        {
            var group = context.Request.Query["group"].ToString();
            var removed = state.Faults.Clear(group.Length == 0 ? null : group);
            Log.FaultsCleared(logger, removed);
            return Ok(new RemovedResponse(removed), Json.RemovedResponse);
        });

        app.MapDelete("/faults/{id}", (string id) =>
            state.Faults.Remove(id) ? Ok(new RemovedResponse(1), Json.RemovedResponse) : Problem(404, $"no active fault with id '{id}'"));

        return app;
    }

    internal static FaultRule ToRule(FaultRequest request)
    {
        if (request.Spec is { } spec)
        {
            return FaultRule.Parse(spec);
        }

        if (request.Group is null || request.Kind is null)
        {
            throw new FormatException("a fault needs \"spec\" (\"imds:status=503,count=3\") or \"group\" and \"kind\"");
        }

        var rule = new FaultRule
        {
            Group = request.Group.ToLowerInvariant(),
            Kind = request.Kind.Value,
            Value = request.Value ?? request.Status ?? request.LatencyMs ?? request.RetryAfterSeconds,
            PathPrefix = request.PathPrefix,
            Count = request.Count,
        };
        return rule.Validate() is { } problem ? throw new FormatException(problem) : rule;
    }

    private static VmSummary Summary(EmulatorState state, VmState vm)
    {
        var reports = vm.HealthReports;
        var d = vm.Definition;
        return new VmSummary(
            vm.Name, d.VmId, d.ResourceGroup, vm.Incarnation, vm.ContainerId, vm.InstanceId, d.PrivateIpAddress, d.SourceAddress,
            d.PrincipalId, vm.PublicKeys, reports.Count, reports.Count == 0 ? null : reports[^1], state.HostileAgents.Get(vm.Name)?.Status,
            vm.HealthObservations.Count, vm.StatusUploadCount, vm.VmSettingsServedCount);
    }

    private static IResult WithVm(EmulatorState state, string name, Func<VmState, IResult> action) =>
        state.TryGetVm(name, out var vm) ? action(vm) : NoVm(state, name);

    private static IResult NoVm(EmulatorState state, string name) =>
        Problem(404, $"no VM named '{name}'; the scenario has: {string.Join(", ", state.Vms.Select(v => v.Name))}");

    private static async Task<(T? Value, IResult? Error)> ReadAsync<T>(HttpContext context, JsonTypeInfo<T> type)
        where T : class
    {
        try
        {
            var value = await JsonSerializer.DeserializeAsync(context.Request.Body, type, context.RequestAborted).ConfigureAwait(false);
            return value is null ? (null, Problem(400, "the body must be a JSON object")) : (value, null);
        }
        catch (JsonException e)
        {
            return (null, Problem(400, $"the body is not valid JSON for this request: {e.Message}"));
        }
    }

    private static IResult Ok<T>(T value, JsonTypeInfo<T> type, int status = 200) =>
        Results.Json(value, type, "application/json; charset=utf-8", status);

    private static IResult Problem(int status, string message) =>
        Results.Json(new ErrorResponse(message), Json.ErrorResponse, "application/json; charset=utf-8", status);
}
