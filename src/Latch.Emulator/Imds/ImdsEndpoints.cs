using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Latch.Emulator.State;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Latch.Emulator.Imds;

/// <summary>
/// IMDS (169.254.169.254): <c>/metadata/instance[/path…]</c> and <c>/metadata/versions</c>, with IMDS's request
/// checks in its order: no X-Forwarded-For, <c>Metadata: true</c>, no duplicate query keys, a supported api-version.
/// <c>/metadata/identity</c> belongs to the managed-identity endpoints mapped on the same app.
/// </summary>
internal static class ImdsEndpoints
{
    internal const string MissingHeader = "Bad request. Required metadata header not specified";
    internal const string NoVersion = "Bad request. api-version was not specified in the request. For more information refer to aka.ms/azureimds";
    internal const string BadVersion = "Bad request. api-version is invalid or was not specified in the request. For more information refer to aka.ms/azureimds";
    internal const string Forwarded = "Bad request. Requests with an X-Forwarded-For header are not allowed; IMDS must be called directly, not through a proxy";

    public static IEndpointRouteBuilder MapImds(this IEndpointRouteBuilder app, EmulatorState state)
    {
        app.MapMethods("/metadata/{**path}", ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"], (HttpContext context, string? path) => Handle(context, state, path ?? ""));
        return app;
    }

    private static IResult Handle(HttpContext context, EmulatorState state, string path)
    {
        var request = context.Request;
        if (request.Headers.ContainsKey("X-Forwarded-For"))
        {
            return Error(400, Forwarded);
        }

        if (!string.Equals(request.Headers["Metadata"].ToString(), "true", StringComparison.OrdinalIgnoreCase))
        {
            return Error(400, MissingHeader);
        }

        if (!HttpMethods.IsGet(request.Method))
        {
            return Error(405, "Bad request. Method not allowed; IMDS answers GET only");
        }

        var duplicate = request.Query.FirstOrDefault(q => q.Value.Count > 1);
        if (duplicate.Key is not null)
        {
            return Error(400, $"Bad request. Query parameter '{duplicate.Key}' is specified more than once");
        }

        var segments = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (segments is ["versions"])
        {
            return Json(new JsonObject { ["apiVersions"] = new JsonArray([.. ImdsDocument.SupportedVersions.Select(v => (JsonNode)v)]) });
        }

        var apiVersion = request.Query["api-version"].ToString();
        if (apiVersion.Length == 0)
        {
            return VersionError(NoVersion);
        }

        if (!ImdsDocument.SupportedVersions.Contains(apiVersion, StringComparer.Ordinal))
        {
            return VersionError(BadVersion);
        }

        if (segments.Length == 0 || segments[0] != "instance")
        {
            return Error(404, "Not found");
        }

        var format = request.Query["format"].ToString();
        if (format.Length > 0 && format is not ("json" or "text"))
        {
            return Error(400, $"Bad request. Format '{format}' is not supported; use json or text");
        }

        var vm = state.ResolveVm(context.Connection.RemoteIpAddress);
        if (vm is null)
        {
            return Error(404, "Not found. This scenario has no VM");
        }

        var extended = string.Equals(request.Query["extended"].ToString(), "true", StringComparison.OrdinalIgnoreCase);
        JsonNode? node = ImdsDocument.Build(vm, state.Scenario.SubscriptionId, apiVersion, extended);
        foreach (var segment in segments.Skip(1))
        {
            node = Child(node, segment);
            if (node is null)
            {
                return Error(404, "Not found");
            }
        }

        var leaf = node is JsonValue;
        if (format == "text")
        {
            return Results.Text(AsText(node!), "text/plain; charset=utf-8", Encoding.UTF8);
        }

        return leaf
            ? Error(400, "Bad request. Leaf nodes are only returned as text: add format=text to the query")
            : Json(node!);
    }

    private static JsonNode? Child(JsonNode? node, string segment) => node switch
    {
        JsonObject obj => obj.FirstOrDefault(p => string.Equals(p.Key, segment, StringComparison.OrdinalIgnoreCase)).Value,
        JsonArray array when int.TryParse(segment, NumberStyles.None, CultureInfo.InvariantCulture, out var i) && i < array.Count => array[i],
        _ => null,
    };

    // format=text: a leaf is its value; a container lists its children, containers with a trailing '/'.
    private static string AsText(JsonNode node) => node switch
    {
        JsonValue value => value.GetValueKind() == System.Text.Json.JsonValueKind.String ? value.GetValue<string>() : JsonText.Write(value),
        JsonObject obj => string.Join('\n', obj.Select(p => p.Value is JsonValue ? p.Key : p.Key + "/")),
        JsonArray array => string.Join('\n', array.Select((item, i) => item is JsonValue ? i.ToString(CultureInfo.InvariantCulture) : i.ToString(CultureInfo.InvariantCulture) + "/")),
        _ => "",
    };

    private static IResult Json(JsonNode node) =>
        Results.Text(JsonText.Write(node), "application/json; charset=utf-8", Encoding.UTF8);

    internal static IResult Error(int status, string message) =>
        Results.Text(JsonText.Write(new JsonObject { ["error"] = message }), "application/json; charset=utf-8", Encoding.UTF8, status);

    private static IResult VersionError(string message) =>
        Results.Text(
            JsonText.Write(new JsonObject { ["error"] = message, ["newest-versions"] = new JsonArray([.. ImdsDocument.NewestVersions.Select(v => (JsonNode)v)]) }),
            "application/json; charset=utf-8",
            Encoding.UTF8,
            400);
}
