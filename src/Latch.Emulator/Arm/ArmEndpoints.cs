using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Latch.Emulator;

/// <summary>
/// The slice of Azure Resource Manager Latch uses: subscription, resource groups, VMs (with instance view),
/// their NIC / public IP / NSG, and VM run-command as a long-running operation with Azure-AsyncOperation and
/// Location polling. Every request needs a bearer token for https://management.azure.com/ from the emulator's
/// issuer and an api-version; errors use ARM's {"error":{"code","message"}} shape.
/// </summary>
internal static class ArmEndpoints
{
    public const string Resource = "https://management.azure.com/";
    private const string Vms = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroup}/providers/Microsoft.Compute/virtualMachines";
    private const string Network = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroup}/providers/Microsoft.Network";

    private static readonly string[] s_audiences = ["https://management.azure.com/", "https://management.core.windows.net/"];

    public static IEndpointRouteBuilder MapArm(this IEndpointRouteBuilder app, ArmState state, TokenIssuer tokens)
    {
        ArgumentNullException.ThrowIfNull(app);
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(tokens);
        var scenario = state.Scenario;
        var arm = app.MapGroup("");
        arm.AddEndpointFilter((context, next) => AuthorizeAsync(context, next, state, tokens));

        arm.MapGet("/subscriptions", () => Ok(ArmResources.List([ArmResources.Subscription(scenario)])));
        arm.MapGet("/subscriptions/{subscriptionId}", () => Ok(ArmResources.Subscription(scenario)));
        arm.MapGet("/subscriptions/{subscriptionId}/resourcegroups", () =>
            Ok(ArmResources.List(state.ResourceGroups.Select(g => (JsonNode)ArmResources.ResourceGroup(scenario, g.Name, g.Location)))));
        arm.MapGet("/subscriptions/{subscriptionId}/resourceGroups/{resourceGroup}", (string resourceGroup) =>
            state.TryFindResourceGroup(resourceGroup, out var group)
                ? Ok(ArmResources.ResourceGroup(scenario, group.Name, group.Location))
                : Error(ResourceGroupNotFound(resourceGroup)));

        arm.MapGet("/subscriptions/{subscriptionId}/providers/Microsoft.Compute/virtualMachines", (HttpContext c) => ListVms(c, state, null));
        arm.MapGet(Vms, (HttpContext c, string resourceGroup) => ListVms(c, state, resourceGroup));
        arm.MapGet(Vms + "/{vmName}", (HttpContext c, string resourceGroup, string vmName) => WithVm(state, resourceGroup, vmName, vm =>
            Ok(ArmResources.VirtualMachine(scenario, vm, Expands(c, "instanceView"), state.Time.GetUtcNow()))));
        arm.MapGet(Vms + "/{vmName}/instanceView", (string resourceGroup, string vmName) => WithVm(state, resourceGroup, vmName, vm =>
            Ok(ArmResources.InstanceView(vm, state.Time.GetUtcNow()))));
        arm.MapPost(Vms + "/{vmName}/runCommand", (HttpContext c, string resourceGroup, string vmName) => RunCommandAsync(c, state, resourceGroup, vmName));
        arm.MapGet("/subscriptions/{subscriptionId}/providers/Microsoft.Compute/locations/{location}/operations/{operationId}",
            (HttpContext c, string operationId) => OperationStatus(c, state, operationId));

        MapNetwork(arm, state, "networkInterfaces", NetworkResources.NicName, vm => NetworkResources.NetworkInterface(scenario, vm));
        MapNetwork(arm, state, "publicIPAddresses", NetworkResources.PublicIpName, vm => vm.PublicIpAddress is null ? null : NetworkResources.PublicIpAddress(scenario, vm));
        MapNetwork(arm, state, "networkSecurityGroups", NetworkResources.NsgName, vm => NetworkResources.NetworkSecurityGroup(scenario, vm));
        return app;
    }

    private static void MapNetwork(RouteGroupBuilder arm, ArmState state, string type, Func<VmDefinition, string> name, Func<VmDefinition, JsonObject?> body)
    {
        arm.MapGet($"{Network}/{type}", (string resourceGroup) =>
            state.TryFindResourceGroup(resourceGroup, out _)
                ? Ok(ArmResources.List(state.VmsIn(resourceGroup).Select(body).OfType<JsonNode>()))
                : Error(ResourceGroupNotFound(resourceGroup)));
        arm.MapGet($"{Network}/{type}/{{resourceName}}", (string resourceGroup, string resourceName) =>
        {
            var document = state.VmsIn(resourceGroup)
                .Where(vm => string.Equals(name(vm), resourceName, StringComparison.OrdinalIgnoreCase))
                .Select(body)
                .FirstOrDefault(d => d is not null);
            return document is null
                ? Error(new ArmError(404, "ResourceNotFound",
                    $"The Resource 'Microsoft.Network/{type}/{resourceName}' under resource group '{resourceGroup}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix"))
                : Ok(document);
        });
    }

    private static async ValueTask<object?> AuthorizeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next, ArmState state, TokenIssuer tokens)
    {
        var http = context.HttpContext;
        var requestId = Guid.NewGuid().ToString();
        http.Response.Headers["x-ms-request-id"] = requestId;
        var correlation = http.Request.Headers["x-ms-correlation-request-id"].ToString();
        http.Response.Headers["x-ms-correlation-request-id"] = Guid.TryParse(correlation, out _) ? correlation : requestId;
        var clientRequestId = http.Request.Headers["x-ms-client-request-id"].ToString();
        if (clientRequestId.Length > 0)
        {
            http.Response.Headers["x-ms-client-request-id"] = clientRequestId;
        }

        var authorization = http.Request.Headers.Authorization.ToString();
        if (authorization.Length == 0)
        {
            return Unauthorized(http, state, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.");
        }
        if (!authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return Unauthorized(http, state, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is provided in an invalid format.");
        }
        if (!tokens.TryValidate(authorization, out var claims, out var problem))
        {
            return problem.Contains("expired", StringComparison.Ordinal)
                ? Unauthorized(http, state, "ExpiredAuthenticationToken", $"The access token is expired: {problem}.")
                : Unauthorized(http, state, "InvalidAuthenticationToken", $"The access token is invalid: {problem}.");
        }
        if (!s_audiences.Any(a => TokenIssuer.SameAudience(claims.Audience, a)))
        {
            return Unauthorized(http, state, "InvalidAuthenticationTokenAudience",
                $"The access token has been obtained for wrong audience or resource '{claims.Audience}'. It should exactly match with one of the allowed audiences 'https://management.core.windows.net/','https://management.core.windows.net','https://management.azure.com/','https://management.azure.com'.");
        }
        if (!string.Equals(claims.TenantId, state.Scenario.TenantId, StringComparison.OrdinalIgnoreCase))
        {
            return Unauthorized(http, state, "InvalidAuthenticationTokenTenant",
                $"The access token is from the wrong issuer '{tokens.Issuer}'. It must match the tenant 'https://sts.windows.net/{state.Scenario.TenantId}/' associated with this subscription.");
        }
        if (string.IsNullOrEmpty(http.Request.Query["api-version"].ToString()))
        {
            return Error(new ArmError(400, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests."));
        }
        if (http.Request.RouteValues.TryGetValue("subscriptionId", out var subscription)
            && !string.Equals(subscription as string, state.Scenario.SubscriptionId, StringComparison.OrdinalIgnoreCase))
        {
            return Error(new ArmError(404, "SubscriptionNotFound", $"The subscription '{subscription}' could not be found."));
        }
        if (http.Request.RouteValues.TryGetValue("resourceGroup", out var group) && !state.TryFindResourceGroup((string)group!, out _))
        {
            return Error(ResourceGroupNotFound((string)group!));
        }
        return await next(context).ConfigureAwait(false);
    }

    private static IResult ListVms(HttpContext context, ArmState state, string? resourceGroup) =>
        Ok(ArmResources.List(state.VmsIn(resourceGroup).Select(vm => (JsonNode)ArmResources.VirtualMachine(state.Scenario, vm, Expands(context, "instanceView"), state.Time.GetUtcNow()))));

    private static IResult WithVm(ArmState state, string resourceGroup, string vmName, Func<VmDefinition, IResult> then)
    {
        var vm = state.FindVm(resourceGroup, vmName);
        return vm is null
            ? Error(new ArmError(404, "ResourceNotFound",
                $"The Resource 'Microsoft.Compute/virtualMachines/{vmName}' under resource group '{resourceGroup}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix"))
            : then(vm);
    }

    private static async Task<IResult> RunCommandAsync(HttpContext context, ArmState state, string resourceGroup, string vmName)
    {
        var vm = state.FindVm(resourceGroup, vmName);
        if (vm is null)
        {
            return WithVm(state, resourceGroup, vmName, _ => Results.Empty);
        }
        RunCommandInputJson? input;
        try
        {
            input = await JsonSerializer.DeserializeAsync(context.Request.Body, ArmJsonContext.Default.RunCommandInputJson, context.RequestAborted).ConfigureAwait(false);
        }
        catch (JsonException e)
        {
            return Error(new ArmError(400, "InvalidRequestContent", $"The request content was invalid and could not be deserialized: '{e.Message}'."));
        }
        if (input is null)
        {
            return Error(new ArmError(400, "InvalidRequestContent", "The request content is empty; send {\"commandId\":\"RunShellScript\",\"script\":[…]}."));
        }
        if (!state.TryStartRunCommand(vm, input, out var operation, out var error))
        {
            return Error(error);
        }
        var apiVersion = Uri.EscapeDataString(context.Request.Query["api-version"].ToString());
        var operationUri = OperationUri(context, state, vm, operation.Id);
        context.Response.Headers["Azure-AsyncOperation"] = $"{operationUri}?api-version={apiVersion}";
        context.Response.Headers.Location = $"{operationUri}?monitor=true&api-version={apiVersion}";
        context.Response.Headers.RetryAfter = RetryAfter(state);
        return Results.StatusCode(StatusCodes.Status202Accepted);
    }

    /// <summary>
    /// The operation URL answers two ways, as Azure's does: plain (Azure-AsyncOperation) gives the status document;
    /// with monitor=true (Location) it gives 202 while running and then the RunCommandResult itself.
    /// </summary>
    private static IResult OperationStatus(HttpContext context, ArmState state, string operationId)
    {
        var operation = state.FindOperation(operationId);
        if (operation is null)
        {
            return Error(new ArmError(404, "NotFound", $"The operation '{operationId}' was not found."));
        }
        var monitor = string.Equals(context.Request.Query["monitor"].ToString(), "true", StringComparison.OrdinalIgnoreCase);
        if (monitor)
        {
            switch (operation.Status)
            {
                case RunCommandStatus.InProgress:
                    context.Response.Headers.Location = $"{OperationUri(context, state, operation.Vm, operation.Id)}{context.Request.QueryString}";
                    context.Response.Headers.RetryAfter = RetryAfter(state);
                    return Results.StatusCode(StatusCodes.Status202Accepted);
                case RunCommandStatus.Failed:
                    return Error(operation.Error!);
                default:
                    return Ok(RunCommandResult(operation));
            }
        }

        var body = new JsonObject
        {
            ["startTime"] = ArmResources.Timestamp(operation.StartTime),
            ["status"] = operation.Status.ToString(),
            ["name"] = operation.Id,
        };
        if (operation.EndTime is { } ended)
        {
            body["endTime"] = ArmResources.Timestamp(ended);
        }
        if (operation.Status == RunCommandStatus.InProgress)
        {
            context.Response.Headers.RetryAfter = RetryAfter(state);
        }
        else if (operation.Status == RunCommandStatus.Succeeded)
        {
            body["properties"] = new JsonObject { ["output"] = RunCommandResult(operation) };
        }
        else
        {
            body["error"] = new JsonObject { ["code"] = operation.Error!.Code, ["message"] = operation.Error.Message };
        }
        return Ok(body);
    }

    /// <summary>RunCommandResult: one instance-view status whose message carries the script's stdout and stderr tails.</summary>
    private static JsonObject RunCommandResult(RunCommandOperation operation)
    {
        var outcome = operation.Outcome!;
        // as the Linux RunCommand extension formats it: no newline after the stderr tail
        var output = $"\n[stdout]\n{outcome.Stdout}\n[stderr]\n{outcome.Stderr}";
        var status = outcome switch
        {
            { Succeeded: true } => ArmResources.Status("ProvisioningState/succeeded", "Provisioning succeeded", null, "Enable succeeded: " + output),
            { StartError: { } startError } => Failed($"Enable failed: {startError}{output}"),
            { TimedOut: true } => Failed($"Enable failed: failed to execute command: command timed out after {operation.EndTime - operation.StartTime:g} and was killed{output}"),
            _ => Failed($"Enable failed: failed to execute command: command terminated with exit status={outcome.ExitCode}{output}"),
        };
        return ArmResources.List([status]);

        static JsonObject Failed(string message) => ArmResources.Status("ProvisioningState/failed", "Provisioning failed", null, message, level: "Error");
    }

    private static string OperationUri(HttpContext context, ArmState state, VmDefinition vm, string operationId) =>
        $"{context.Request.Scheme}://{context.Request.Host}/subscriptions/{state.Scenario.SubscriptionId}/providers/Microsoft.Compute/locations/{vm.Location}/operations/{operationId}";

    /// <summary>Poll no sooner than the configured latency (whole seconds, 1-30).</summary>
    private static string RetryAfter(ArmState state) =>
        Math.Clamp((int)Math.Ceiling(state.Options.RunCommandLatency.TotalSeconds), 1, 30).ToString(CultureInfo.InvariantCulture);

    private static bool Expands(HttpContext context, string what) =>
        context.Request.Query["$expand"].ToString().Split(',').Any(e => string.Equals(e.Trim(), what, StringComparison.OrdinalIgnoreCase));

    private static ArmError ResourceGroupNotFound(string name) => new(404, "ResourceGroupNotFound", $"Resource group '{name}' could not be found.");

    private static IResult Unauthorized(HttpContext context, ArmState state, string code, string message)
    {
        context.Response.Headers.WWWAuthenticate = $"Bearer authorization_uri=\"https://login.microsoftonline.com/{state.Scenario.TenantId}\", error=\"invalid_token\", error_description=\"{message.Replace('"', '\'')}\"";
        return Error(new ArmError(401, code, message));
    }

    internal static IResult Error(ArmError error) =>
        Results.Json(new ArmErrorJson(new ArmErrorBodyJson(error.Code, error.Message)), ArmJsonContext.Default.ArmErrorJson, statusCode: error.Status);

    private static IResult Ok(JsonNode body) => Results.Text(body.ToJsonString(), "application/json; charset=utf-8", Encoding.UTF8);
}
