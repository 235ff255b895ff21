using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Latch.Emulator.Imds;
using Latch.Emulator.Pipeline;
using Latch.Emulator.State;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;

namespace Latch.Emulator.WireServer;

/// <summary>
/// The WireServer (168.63.129.16): protocol versions, goal state and the documents it links, the XML health
/// report waagent posts, role properties, telemetry, the status blob, waagent's health observations (/HealthService)
/// and azure-init's JSON health report.
/// </summary>
internal static class WireServerEndpoints
{
    private const string Xml = "text/xml; charset=utf-8";

    public static IEndpointRouteBuilder MapWireServer(this IEndpointRouteBuilder app, EmulatorState state, ILogger logger)
    {
        app.MapGet("/", (HttpContext context) => context.Request.Query["comp"] == "versions"
            ? Results.Text(WireDocuments.Versions(), Xml, Encoding.UTF8)
            : WireError(400, "InvalidQueryParameter", "Unknown or missing comp parameter; this endpoint serves comp=versions."));

        app.MapGet("/machine", (HttpContext context) => GoalState(context, state));

        app.MapPost("/machine", async (HttpContext context) =>
        {
            var comp = context.Request.Query["comp"].ToString();
            var body = await ReadBodyAsync(context).ConfigureAwait(false);
            if (body is null)
            {
                return WireError(413, "RequestBodyTooLarge", $"The request body exceeds {SafeXml.MaxCharacters} characters.");
            }

            return comp switch
            {
                "health" => XmlHealth(context, state, logger, body),
                "roleProperties" => RoleProperties(context, state, logger, body),
                "telemetrydata" => Telemetry(context, state, logger, body),
                _ => WireError(400, "InvalidQueryParameter", $"Unknown comp '{comp}' for POST /machine; use health, roleProperties or telemetrydata."),
            };
        });

        app.MapGet("/machine/{containerId}/{instanceId}", (HttpContext context, string containerId, string instanceId) =>
        {
            if (Find(state, containerId, instanceId) is not { } vm)
            {
                return WireError(404, "ResourceNotFound", "No role instance with this container and instance id.");
            }

            var (incarnation, created) = vm.GoalState;
            var type = context.Request.Query["type"].ToString();
            if (context.Request.Query["comp"] != "config")
            {
                return WireError(400, "InvalidQueryParameter", "Use comp=config with type=hostingEnvironmentConfig, sharedConfig, extensionsConfig or fullConfig.");
            }

            var document = type switch
            {
                "hostingEnvironmentConfig" => WireDocuments.HostingEnvironment(vm, incarnation),
                "sharedConfig" => WireDocuments.SharedConfig(vm, incarnation),
                "extensionsConfig" => WireDocuments.ExtensionsConfig(vm, incarnation, created, BaseUri(context)),
                "fullConfig" => WireDocuments.FullConfig(vm, incarnation),
                _ => null,
            };
            return document is null
                ? WireError(400, "InvalidQueryParameter", $"Unknown config type '{type}'.")
                : Results.Text(document, Xml, Encoding.UTF8);
        });

        // The status blob the ExtensionsConfig names: waagent PUTs its VM status here (direct upload).
        app.MapPut("/machine/{containerId}/{instanceId}/status", async (HttpContext context, string containerId, string instanceId) =>
        {
            if (Find(state, containerId, instanceId) is not { } vm)
            {
                return WireError(404, "ResourceNotFound", "No role instance with this container and instance id.");
            }

            var body = await ReadBodyAsync(context).ConfigureAwait(false);
            if (body is null)
            {
                return WireError(413, "RequestBodyTooLarge", "The status blob is too large.");
            }

            vm.RecordStatus(body);
            return Results.StatusCode(201);
        });

        // waagent's health observations (HostGAPlugin and IMDS heartbeats), JSON on port 80
        app.MapPost("/HealthService", async (HttpContext context) =>
        {
            var body = await ReadBodyAsync(context).ConfigureAwait(false);
            return body is null ? JsonError(413, "request body too large") : HealthService(context, state, logger, body);
        });

        app.MapPost("/provisioning/health", async (HttpContext context) =>
        {
            var body = await ReadBodyAsync(context).ConfigureAwait(false);
            return body is null ? JsonError(413, "request body too large") : JsonHealth(context, state, logger, body);
        });

        return app;
    }

    private static IResult GoalState(HttpContext context, EmulatorState state)
    {
        if (context.Request.Query["comp"] != "goalstate")
        {
            return WireError(400, "InvalidQueryParameter", "Use comp=goalstate.");
        }

        if (string.IsNullOrEmpty(context.Request.Headers["x-ms-version"]))
        {
            return WireError(400, "MissingRequiredHeader", "An HTTP header that's mandatory for this request is not specified: x-ms-version.");
        }

        if (state.ResolveVm(context.Connection.RemoteIpAddress) is not { } vm)
        {
            return WireError(404, "ResourceNotFound", "This scenario has no VM.");
        }

        return Results.Text(WireDocuments.GoalState(vm, vm.Incarnation, BaseUri(context)), Xml, Encoding.UTF8);
    }

    private static IResult XmlHealth(HttpContext context, EmulatorState state, ILogger logger, string body)
    {
        if (SafeXml.TryParse(body, out var error) is not { } document)
        {
            return Reject(context, logger, error!);
        }

        var root = document.Root!;
        if (root.Name.LocalName != "Health")
        {
            return Reject(context, logger, $"the root element is <{root.Name.LocalName}>, expected <Health>");
        }

        var incarnation = SafeXml.Text(root, "GoalStateIncarnation");
        var containerId = SafeXml.Text(root, "Container", "ContainerId");
        var role = SafeXml.Element(root, "Container", "RoleInstanceList", "Role");
        var instanceId = SafeXml.Text(role, "InstanceId");
        var healthState = SafeXml.Text(role, "Health", "State");
        if (incarnation is null || containerId is null || instanceId is null || healthState is null)
        {
            return Reject(context, logger, "a health report needs GoalStateIncarnation, Container/ContainerId, Container/RoleInstanceList/Role/InstanceId and Role/Health/State");
        }

        if (state.Vms.FirstOrDefault(v => v.ContainerId == containerId) is not { } vm)
        {
            return Reject(context, logger, $"unknown ContainerId '{Short(containerId)}'", 400, "InvalidContainerId");
        }

        if (vm.InstanceId != instanceId)
        {
            return Reject(context, logger, $"InstanceId '{Short(instanceId)}' is not the role instance of container {containerId}", 400, "InvalidRoleInstanceId");
        }

        if (healthState is not ("Ready" or "NotReady"))
        {
            return Reject(context, logger, $"unknown health state '{Short(healthState)}'; expected Ready or NotReady", 400, "InvalidHealthState");
        }

        var report = new HealthReport(
            state.Time.GetUtcNow(), HealthReportKind.Xml, healthState,
            SafeXml.Text(role, "Health", "Details", "SubStatus"),
            VmState.Truncate(SafeXml.Text(role, "Health", "Details", "Description")),
            incarnation, UserAgent(context), Header(context, "x-ms-agent-name"));
        vm.Record(report);
        Log.HealthReported(logger, vm.Name, "xml", report.State, report.SubStatus, report.Incarnation);
        return Results.Ok();
    }

    private static IResult JsonHealth(HttpContext context, EmulatorState state, ILogger logger, string body)
    {
        string? healthState = null, subStatus = null, description = null;
        try
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("state", out var s) || s.ValueKind != JsonValueKind.String)
            {
                return JsonReject(context, logger, "the body must be a JSON object with a string \"state\"");
            }

            healthState = s.GetString();
            if (root.TryGetProperty("details", out var details))
            {
                if (details.ValueKind != JsonValueKind.Object)
                {
                    return JsonReject(context, logger, "\"details\" must be an object with subStatus and description");
                }

                subStatus = details.TryGetProperty("subStatus", out var sub) && sub.ValueKind == JsonValueKind.String ? sub.GetString() : null;
                description = details.TryGetProperty("description", out var desc) && desc.ValueKind == JsonValueKind.String ? desc.GetString() : null;
            }
        }
        catch (JsonException e)
        {
            return JsonReject(context, logger, "malformed JSON: " + e.Message);
        }

        if (healthState is not ("Ready" or "NotReady"))
        {
            return JsonReject(context, logger, $"unknown state '{Short(healthState ?? "")}'; expected Ready or NotReady");
        }

        if (state.ResolveVm(context.Connection.RemoteIpAddress) is not { } vm)
        {
            return JsonError(404, "this scenario has no VM");
        }

        var report = new HealthReport(
            state.Time.GetUtcNow(), HealthReportKind.Json, healthState, subStatus, VmState.Truncate(description),
            vm.Incarnation.ToString(System.Globalization.CultureInfo.InvariantCulture), UserAgent(context), Header(context, "x-ms-guest-agent-name"));
        vm.Record(report);
        Log.HealthReported(logger, vm.Name, "json", report.State, report.SubStatus, report.Incarnation);
        return Results.Ok();
    }

    private static IResult HealthService(HttpContext context, EmulatorState state, ILogger logger, string body)
    {
        var observations = new List<HealthObservation>();
        var now = state.Time.GetUtcNow();
        try
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object
                || !root.TryGetProperty("Api", out var api) || api.ValueKind != JsonValueKind.String
                || !root.TryGetProperty("Observations", out var list) || list.ValueKind != JsonValueKind.Array)
            {
                return JsonReject(context, logger, "the body must be {\"Api\":\"reporttargethealth\",\"Version\":\"1.0\",\"Source\":…,\"Observations\":[…]}");
            }

            if (api.GetString() != "reporttargethealth")
            {
                return JsonReject(context, logger, $"unknown Api '{Short(api.GetString()!)}'; the HealthService serves reporttargethealth");
            }

            var source = root.TryGetProperty("Source", out var s) && s.ValueKind == JsonValueKind.String ? s.GetString()! : "";
            foreach (var item in list.EnumerateArray())
            {
                if (item.ValueKind != JsonValueKind.Object
                    || !item.TryGetProperty("ObservationName", out var name) || name.ValueKind != JsonValueKind.String
                    || !item.TryGetProperty("IsHealthy", out var healthy) || healthy.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
                {
                    return JsonReject(context, logger, "each observation needs a string ObservationName and a boolean IsHealthy");
                }

                observations.Add(new HealthObservation(
                    now, source, name.GetString()!, healthy.GetBoolean(), StringOf(item, "Description"), StringOf(item, "Value")));
            }
        }
        catch (JsonException e)
        {
            return JsonReject(context, logger, "malformed JSON: " + e.Message);
        }

        if (state.ResolveVm(context.Connection.RemoteIpAddress) is not { } vm)
        {
            return JsonError(404, "this scenario has no VM");
        }

        vm.RecordObservations(observations);
        if (observations.Any(o => !o.IsHealthy))
        {
            // the request log shows every post; an unhealthy observation is worth its own line (waagent sends these each minute)
            Log.UnhealthyObservations(logger, vm.Name, string.Join(", ", observations.Where(o => !o.IsHealthy).Select(o => o.Name)));
        }
        return Results.Ok();

        static string StringOf(JsonElement item, string name) =>
            item.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? VmState.Truncate(value.GetString())! : "";
    }

    private static IResult RoleProperties(HttpContext context, EmulatorState state, ILogger logger, string body)
    {
        if (SafeXml.TryParse(body, out var error) is not { } document)
        {
            return Reject(context, logger, error!);
        }

        var containerId = SafeXml.Text(document.Root, "Container", "ContainerId");
        if (document.Root!.Name.LocalName != "RoleProperties" || containerId is null)
        {
            return Reject(context, logger, "expected <RoleProperties><Container><ContainerId>…");
        }

        if (state.Vms.FirstOrDefault(v => v.ContainerId == containerId) is not { } vm)
        {
            return Reject(context, logger, $"unknown ContainerId '{Short(containerId)}'", 400, "InvalidContainerId");
        }

        var properties = document.Descendants()
            .Where(e => e.Name.LocalName == "Property" && e.Attribute("name") is not null)
            .GroupBy(e => (string)e.Attribute("name")!, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => (string?)g.Last().Attribute("value") ?? "", StringComparer.Ordinal);
        vm.RecordRoleProperties(properties);
        return Results.StatusCode(202);
    }

    private static IResult Telemetry(HttpContext context, EmulatorState state, ILogger logger, string body)
    {
        if (SafeXml.TryParse(body, out var error) is not { } document)
        {
            return Reject(context, logger, error!);
        }

        if (document.Root!.Name.LocalName != "TelemetryData")
        {
            return Reject(context, logger, $"the root element is <{document.Root.Name.LocalName}>, expected <TelemetryData>");
        }

        state.ResolveVm(context.Connection.RemoteIpAddress)?.RecordTelemetry(document.Descendants().Count(e => e.Name.LocalName == "Event"));
        return Results.Ok();
    }

    private static VmState? Find(EmulatorState state, string containerId, string instanceId) =>
        state.Vms.FirstOrDefault(v => v.ContainerId == containerId && v.InstanceId == instanceId);

    /// <summary>Reads the body as UTF-8 text; null when it exceeds the limit.</summary>
    private static async Task<string?> ReadBodyAsync(HttpContext context)
    {
        using var reader = new StreamReader(context.Request.Body, Encoding.UTF8);
        var text = new StringBuilder();
        var buffer = new char[16384];
        int read;
        while ((read = await reader.ReadAsync(buffer, context.RequestAborted).ConfigureAwait(false)) > 0)
        {
            if (text.Length + read > SafeXml.MaxCharacters)
            {
                return null;
            }

            text.Append(buffer, 0, read);
        }

        return text.ToString();
    }

    private static string BaseUri(HttpContext context) => $"{context.Request.Scheme}://{context.Request.Host}";

    private static string? UserAgent(HttpContext context) => Header(context, "User-Agent");

    private static string? Header(HttpContext context, string name) =>
        context.Request.Headers[name].ToString() is { Length: > 0 } value ? value : null;

    private static string Short(string value) => value.Length <= 64 ? value : value[..61] + "...";

    private static IResult Reject(HttpContext context, ILogger logger, string reason, int status = 400, string code = "InvalidRequestBody")
    {
        Log.Rejected(logger, "wireserver", context.Request.Path, reason);
        return WireError(status, code, reason);
    }

    private static IResult JsonReject(HttpContext context, ILogger logger, string reason)
    {
        Log.Rejected(logger, "wireserver", context.Request.Path, reason);
        return JsonError(400, reason);
    }

    internal static IResult WireError(int status, string code, string message) =>
        Results.Text(EmulatorPipeline.WireErrorXml(code, message), Xml, Encoding.UTF8, status);

    private static IResult JsonError(int status, string message) =>
        Results.Text(JsonText.Write(new JsonObject { ["error"] = message }), "application/json; charset=utf-8", Encoding.UTF8, status);
}
