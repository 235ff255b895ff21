using System.Globalization;
using System.Text;
using System.Text.Json;
using Latch.Emulator.Imds;
using Latch.Emulator.State;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;

namespace Latch.Emulator.HostGaPlugin;

/// <summary>
/// The HostGAPlugin (168.63.129.16:32526), the host-side proxy waagent uses next to the WireServer: <c>GET /versions</c>,
/// <c>GET /health</c>, <c>GET /vmSettings</c> (Fast Track, with ETag / If-None-Match → 304) and <c>PUT /status</c> (the
/// status blob, relayed to storage: here the WireServer's status blob). Requests name their VM by <c>x-ms-containerid</c>;
/// an unknown container id is 410 Gone, which makes waagent fetch a fresh goal state.
/// </summary>
internal static class HostGaPluginEndpoints
{
    /// <summary>The API version the plugin lists and waagent requires (<c>x-ms-version</c>).</summary>
    public const string ApiVersion = "2015-09-01";

    private const string Json = "application/json; charset=utf-8";
    private const string Text = "text/plain; charset=utf-8";

    /// <param name="wireServerPort">The WireServer's port: the status blob lives there, on the host the caller used for us.</param>
    public static IEndpointRouteBuilder MapHostGaPlugin(this IEndpointRouteBuilder app, EmulatorState state, Func<int> wireServerPort, ILogger logger)
    {
        app.MapGet("/versions", () => Results.Text($"[\"{ApiVersion}\"]", Json, Encoding.UTF8));
        app.MapGet("/health", () => Results.Ok());
        app.MapGet("/vmSettings", (HttpContext context) => VmSettings(context, state, wireServerPort(), logger));
        // a block body with return: an expression-bodied async lambda would bind to RequestDelegate and drop the result
        app.MapPut("/status", async (HttpContext context) =>
        {
            return await PutStatusAsync(context, state, logger).ConfigureAwait(false);
        });
        return app;
    }

    private static IResult VmSettings(HttpContext context, EmulatorState state, int wirePort, ILogger logger)
    {
        if (Identify(context, state, logger, out var vm) is { } error)
        {
            return error;
        }

        var (incarnation, created) = vm.GoalState;
        var etag = VmSettingsDocument.ETag(vm, incarnation, created);
        context.Response.Headers.ETag = etag;
        var ifNoneMatch = context.Request.Headers.IfNoneMatch.ToString().Trim().Trim('"');
        if (ifNoneMatch == etag)
        {
            return Results.StatusCode(304);
        }

        // the WireServer shares the plugin's address (Host keeps an IPv6 address's brackets)
        var host = context.Request.Host.Host;
        var wireBase = wirePort == 80 ? $"http://{host}" : string.Create(CultureInfo.InvariantCulture, $"http://{host}:{wirePort}");

        var document = VmSettingsDocument.Build(vm, incarnation, created, state.Scenario.SubscriptionId, wireBase);
        vm.RecordVmSettingsServed();
        return Results.Text(JsonText.Write(document), Json, Encoding.UTF8);
    }

    private static async Task<IResult> PutStatusAsync(HttpContext context, EmulatorState state, ILogger logger)
    {
        if (Identify(context, state, logger, out var vm) is { } error)
        {
            return error;
        }

        string requestUri;
        string? blobType = null;
        byte[]? content = null;
        try
        {
            using var document = await JsonDocument.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted).ConfigureAwait(false);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object
                || !root.TryGetProperty("requestUri", out var uri) || uri.ValueKind != JsonValueKind.String
                || !root.TryGetProperty("headers", out var headers) || headers.ValueKind != JsonValueKind.Array)
            {
                return Reject(context, logger, 400, "the body must be {\"requestUri\":\"…\",\"headers\":[{\"headerName\":…,\"headerValue\":…}],\"content\":\"base64\"}");
            }

            requestUri = uri.GetString()!;
            foreach (var header in headers.EnumerateArray())
            {
                if (header.ValueKind == JsonValueKind.Object
                    && header.TryGetProperty("headerName", out var name) && name.ValueKind == JsonValueKind.String
                    && string.Equals(name.GetString(), "x-ms-blob-type", StringComparison.OrdinalIgnoreCase)
                    && header.TryGetProperty("headerValue", out var value) && value.ValueKind == JsonValueKind.String)
                {
                    blobType = value.GetString();
                }
            }

            if (root.TryGetProperty("content", out var body) && body.ValueKind == JsonValueKind.String)
            {
                content = Convert.FromBase64String(body.GetString()!);
            }
        }
        catch (JsonException e)
        {
            return Reject(context, logger, 400, "malformed JSON: " + e.Message);
        }
        catch (FormatException)
        {
            return Reject(context, logger, 400, "\"content\" is not valid base64");
        }

        if (!Uri.TryCreate(requestUri, UriKind.Absolute, out var target)
            || !string.Equals(target.AbsolutePath, $"/machine/{vm.ContainerId}/{vm.InstanceId}/status", StringComparison.Ordinal))
        {
            // the plugin relays to storage and reports storage's refusal as 502 (its "upstream failure" code)
            return Reject(context, logger, 502, $"the status blob '{Short(requestUri)}' is not the one the goal state of container {vm.ContainerId} names");
        }

        switch (blobType)
        {
            case "BlockBlob" when content is not null:
                vm.RecordStatus(Encoding.UTF8.GetString(content));
                return Results.StatusCode(201);
            case "PageBlob" when content is null:
                return Results.StatusCode(201); // creating the (blank) page blob
            case "PageBlob":
                // pages are padded with blanks (and the last page with zeros) to 512-byte multiples
                vm.RecordStatus(Encoding.UTF8.GetString(content).TrimEnd(' ', '\0'));
                return Results.StatusCode(201);
            case "BlockBlob":
                return Reject(context, logger, 400, "a BlockBlob status upload needs \"content\"");
            default:
                return Reject(context, logger, 400, $"the headers must set x-ms-blob-type to BlockBlob or PageBlob, not '{Short(blobType ?? "")}'");
        }
    }

    /// <summary>Finds the VM the request speaks for by its x-ms-containerid; the error to answer when it can't.</summary>
    private static IResult? Identify(HttpContext context, EmulatorState state, ILogger logger, out VmState vm)
    {
        vm = null!;
        var headers = context.Request.Headers;
        foreach (var required in new[] { "x-ms-version", "x-ms-containerid", "x-ms-host-config-name" })
        {
            if (string.IsNullOrEmpty(headers[required]))
            {
                return Reject(context, logger, 400, $"the {required} header is required");
            }
        }

        if (headers["x-ms-version"] != ApiVersion)
        {
            return Reject(context, logger, 400, $"x-ms-version '{Short(headers["x-ms-version"].ToString())}' is not supported; use {ApiVersion}");
        }

        var containerId = headers["x-ms-containerid"].ToString();
        if (state.Vms.FirstOrDefault(v => string.Equals(v.ContainerId, containerId, StringComparison.OrdinalIgnoreCase)) is not { } found)
        {
            return Reject(context, logger, 410, $"container '{Short(containerId)}' is not current; fetch the goal state again");
        }

        vm = found;
        return null;
    }

    private static IResult Reject(HttpContext context, ILogger logger, int status, string reason)
    {
        Log.Rejected(logger, "hostgaplugin", context.Request.Path, reason);
        return Results.Text(reason, Text, Encoding.UTF8, status);
    }

    private static string Short(string value) => value.Length <= 80 ? value : value[..77] + "...";
}
