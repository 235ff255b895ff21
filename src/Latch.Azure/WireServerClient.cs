using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Latch.Azure.Http;
using Latch.Azure.Json;
using Latch.Azure.Xml;

namespace Latch.Azure;

/// <summary>
/// WireServer (168.63.129.16) client: protocol versions, goal state, and the two health endpoints (legacy XML
/// <c>comp=health</c>, newer JSON <c>/provisioning/health</c>). Immutable and thread-safe.
/// </summary>
public sealed class WireServerClient : IDisposable
{
    /// <summary>The protocol version every Linux agent speaks.</summary>
    public const string ProtocolVersion = "2012-11-30";

    /// <summary>waagent cuts descriptions to this many characters (the fabric's limit is 4096 bytes).</summary>
    public const int MaxDescriptionLength = 3686;

    internal const int MaxXmlBytes = 1024 * 1024;

    private const string GoalStateOperation = "GET /machine/?comp=goalstate";
    private const string HealthOperation = "POST /machine?comp=health";

    private readonly AzurePipeline _pipeline;
    private readonly string _agentName;
    private readonly int _maxRefetches;

    public WireServerClient(WireServerClientOptions? options = null)
    {
        options ??= new WireServerClientOptions();
        _agentName = options.AgentName;
        _maxRefetches = options.MaxGoalStateRefetches;
        _pipeline = new AzurePipeline("WireServer", options, IsRetriable);
    }

    /// <summary>410 Gone means the goal state moved on: ask again.</summary>
    internal static bool IsRetriable(int status) => status == 410 || RetryPolicy.IsTransient(status);

    /// <summary>GET /?comp=versions; fails when the WireServer does not offer protocol 2012-11-30.</summary>
    public async Task<WireServerVersions> GetVersionsAsync(CancellationToken cancellationToken = default)
    {
        const string operation = "GET /?comp=versions";
        var versions = await _pipeline.SendAsync(
            operation,
            _ => ValueTask.FromResult(new HttpRequestMessage(HttpMethod.Get, "/?comp=versions")),
            response => response.IsSuccess ? ParseOrRetry(response.Body, ParseVersions) : _pipeline.Classify<WireServerVersions>(response, operation),
            cancellationToken).ConfigureAwait(false);
        if (!versions.Supports(ProtocolVersion))
        {
            throw new AzureRequestException(
                $"WireServer does not support protocol {ProtocolVersion} (preferred {versions.Preferred ?? "none"}, supported {string.Join(", ", versions.Supported)}); this host is not a supported Azure fabric.",
                status: 200);
        }

        return versions;
    }

    /// <summary>GET /machine/?comp=goalstate.</summary>
    public Task<GoalState> GetGoalStateAsync(CancellationToken cancellationToken = default) =>
        _pipeline.SendAsync(
            GoalStateOperation,
            _ => ValueTask.FromResult(WithAgentHeaders(new HttpRequestMessage(HttpMethod.Get, "/machine/?comp=goalstate"))),
            response => response.IsSuccess ? ParseOrRetry(response.Body, ParseGoalState) : _pipeline.Classify<GoalState>(response, GoalStateOperation),
            cancellationToken);

    /// <summary>
    /// POST /machine?comp=health for <paramref name="goalState"/>. When the fabric answers 410 (the goal state changed
    /// underneath us), refetches the goal state and reports again against the new incarnation.
    /// Returns the goal state the report was accepted for.
    /// </summary>
    public async Task<GoalState> ReportHealthAsync(GoalState goalState, HealthReport report, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(goalState);
        ArgumentNullException.ThrowIfNull(report);
        var current = goalState;
        for (var refetch = 0; ; refetch++)
        {
            var body = BuildHealthReport(current, report);
            var accepted = await _pipeline.SendAsync(
                HealthOperation,
                _ =>
                {
                    var request = WithAgentHeaders(new HttpRequestMessage(HttpMethod.Post, "/machine?comp=health"));
                    request.Content = new StringContent(body, new UTF8Encoding(false), MediaTypeHeaderValue.Parse("text/xml; charset=utf-8"));
                    return ValueTask.FromResult(request);
                },
                response => response.Status == 410
                    ? Attempt<bool>.Success(false)
                    : response.IsSuccess ? Attempt<bool>.Success(true) : _pipeline.Classify<bool>(response, HealthOperation),
                cancellationToken).ConfigureAwait(false);
            if (accepted)
            {
                return current;
            }

            if (refetch >= _maxRefetches)
            {
                throw new AzureRequestException(
                    $"WireServer {HealthOperation} answered 410 (goal state changed) {refetch + 1} times in a row; the goal state keeps moving. Try again later.",
                    410, null, refetch + 1);
            }

            var fresh = await GetGoalStateAsync(cancellationToken).ConfigureAwait(false);
            Log.GoalStateChanged(_pipeline.Logger, current.Incarnation, fresh.Incarnation);
            current = fresh;
        }
    }

    /// <summary>POST /provisioning/health with the JSON body azure-init sends (no goal state needed).</summary>
    public Task ReportProvisioningHealthJsonAsync(HealthReport report, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(report);
        const string operation = "POST /provisioning/health";
        var json = BuildProvisioningHealthJson(report);
        return _pipeline.SendAsync(
            operation,
            _ =>
            {
                var request = new HttpRequestMessage(HttpMethod.Post, "/provisioning/health");
                request.Headers.Add("x-ms-guest-agent-name", _agentName);
                request.Content = new ByteArrayContent(json);
                request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
                return ValueTask.FromResult(request);
            },
            response => response.IsSuccess ? Attempt<bool>.Success(true) : _pipeline.Classify<bool>(response, operation),
            cancellationToken);
    }

    /// <summary>
    /// POST /machine?comp=roleProperties: tells the fabric role properties of this instance, as waagent does with the SSH
    /// host key's <c>CertificateThumbprint</c> after provisioning.
    /// </summary>
    public Task ReportRolePropertiesAsync(GoalState goalState, IReadOnlyList<KeyValuePair<string, string>> properties, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(goalState);
        ArgumentNullException.ThrowIfNull(properties);
        const string operation = "POST /machine?comp=roleProperties";
        var body = BuildRoleProperties(goalState, properties);
        return _pipeline.SendAsync(
            operation,
            _ =>
            {
                var request = WithAgentHeaders(new HttpRequestMessage(HttpMethod.Post, "/machine?comp=roleProperties"));
                request.Content = new StringContent(body, new UTF8Encoding(false), MediaTypeHeaderValue.Parse("text/xml; charset=utf-8"));
                return ValueTask.FromResult(request);
            },
            response => response.IsSuccess ? Attempt<bool>.Success(true) : _pipeline.Classify<bool>(response, operation),
            cancellationToken);
    }

    /// <summary>The body waagent's <c>_build_role_properties</c> produces.</summary>
    internal static string BuildRoleProperties(GoalState goalState, IReadOnlyList<KeyValuePair<string, string>> properties)
    {
        var xml = new StringBuilder(384);
        xml.Append("<?xml version=\"1.0\" encoding=\"utf-8\"?><RoleProperties><Container><ContainerId>").Append(Escape(goalState.ContainerId))
            .Append("</ContainerId><RoleInstances><RoleInstance><Id>").Append(Escape(goalState.RoleInstanceId)).Append("</Id><Properties>");
        foreach (var (name, value) in properties)
        {
            xml.Append("<Property name=\"").Append(EscapeAttribute(name)).Append("\" value=\"").Append(EscapeAttribute(value)).Append("\" />");
        }

        return xml.Append("</Properties></RoleInstance></RoleInstances></Container></RoleProperties>").ToString();
    }

    private static string EscapeAttribute(string text) => Escape(text).Replace("\"", "&quot;", StringComparison.Ordinal);

    private HttpRequestMessage WithAgentHeaders(HttpRequestMessage request)
    {
        request.Headers.Add("x-ms-agent-name", _agentName);
        request.Headers.Add("x-ms-version", ProtocolVersion);
        return request;
    }

    private static Attempt<T> ParseOrRetry<T>(byte[] body, Func<byte[], T> parse)
    {
        try
        {
            return Attempt<T>.Success(parse(body));
        }
        catch (AzureFormatException e)
        {
            return Attempt<T>.Retry(e.Message);
        }
    }

    internal static WireServerVersions ParseVersions(byte[] xml)
    {
        var root = SafeXml.Load(xml, "WireServer versions document", MaxXmlBytes).Root!;
        if (root.Name.LocalName != "Versions")
        {
            throw new AzureFormatException($"WireServer versions document has root <{root.Name.LocalName}>, expected <Versions>.");
        }

        var preferred = root.Child("Preferred")?.ChildText("Version");
        var supported = root.Child("Supported")?.Children("Version").Select(v => v.Value.Trim()).Where(v => v.Length > 0).ToList() ?? [];
        return new WireServerVersions(preferred, supported);
    }

    internal static GoalState ParseGoalState(byte[] xml)
    {
        const string doc = "WireServer goal state";
        var root = SafeXml.Load(xml, doc, MaxXmlBytes).Root!;
        if (root.Name.LocalName != "GoalState")
        {
            throw new AzureFormatException($"{doc} has root <{root.Name.LocalName}>, expected <GoalState>.");
        }

        var incarnation = root.ChildText("Incarnation") ?? throw new AzureFormatException($"{doc} lacks <Incarnation>.");
        var container = root.Child("Container") ?? throw new AzureFormatException($"{doc} lacks <Container>.");
        var containerId = container.ChildText("ContainerId") ?? throw new AzureFormatException($"{doc} lacks <Container>/<ContainerId>.");
        var instance = container.Child("RoleInstanceList")?.Child("RoleInstance");
        var instanceId = instance?.ChildText("InstanceId")
            ?? throw new AzureFormatException($"{doc} lacks <Container>/<RoleInstanceList>/<RoleInstance>/<InstanceId> (incarnation {incarnation}).");
        var config = instance!.Child("Configuration");
        return new GoalState(
            incarnation,
            containerId,
            instanceId,
            new GoalStateConfiguration(
                config?.ChildText("HostingEnvironmentConfig"),
                config?.ChildText("SharedConfig"),
                config?.ChildText("ExtensionsConfig"),
                config?.ChildText("FullConfig"),
                config?.ChildText("Certificates"),
                config?.ChildText("ConfigName")));
    }

    /// <summary>The exact body waagent's <c>_build_health_report</c> produces (no whitespace).</summary>
    internal static string BuildHealthReport(GoalState goalState, HealthReport report)
    {
        var xml = new StringBuilder(512);
        xml.Append("<?xml version=\"1.0\" encoding=\"utf-8\"?><Health xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\">")
            .Append("<GoalStateIncarnation>").Append(Escape(goalState.Incarnation)).Append("</GoalStateIncarnation>")
            .Append("<Container><ContainerId>").Append(Escape(goalState.ContainerId)).Append("</ContainerId>")
            .Append("<RoleInstanceList><Role><InstanceId>").Append(Escape(goalState.RoleInstanceId)).Append("</InstanceId>")
            .Append("<Health><State>").Append(report.State == HealthState.Ready ? "Ready" : "NotReady").Append("</State>");
        if (report.State == HealthState.NotReady)
        {
            xml.Append("<Details><SubStatus>").Append(Escape(report.SubStatus!)).Append("</SubStatus>")
                .Append("<Description>").Append(Escape(Cut(report.Description!))).Append("</Description></Details>");
        }

        return xml.Append("</Health></Role></RoleInstanceList></Container></Health>").ToString();
    }

    internal static byte[] BuildProvisioningHealthJson(HealthReport report) => JsonSerializer.SerializeToUtf8Bytes(
        new ProvisioningHealthWire
        {
            State = report.State == HealthState.Ready ? "Ready" : "NotReady",
            Details = report.State == HealthState.Ready ? null : new ProvisioningHealthDetailsWire { SubStatus = report.SubStatus, Description = Cut(report.Description!) },
        },
        AzureJsonContext.Default.ProvisioningHealthWire);

    /// <summary>Cuts before escaping, as waagent does, without splitting a surrogate pair.</summary>
    internal static string Cut(string description)
    {
        if (description.Length <= MaxDescriptionLength)
        {
            return description;
        }

        var end = MaxDescriptionLength;
        if (char.IsHighSurrogate(description[end - 1]))
        {
            end--;
        }

        return description[..end];
    }

    /// <summary>saxutils.escape (&amp;, &lt;, &gt;), plus characters XML 1.0 cannot carry replaced by U+FFFD.</summary>
    internal static string Escape(string text)
    {
        var escaped = new StringBuilder(text.Length + 16);
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            switch (c)
            {
                case '&': escaped.Append("&amp;"); break;
                case '<': escaped.Append("&lt;"); break;
                case '>': escaped.Append("&gt;"); break;
                case '\t' or '\n' or '\r': escaped.Append(c); break;
                case < ' ' or '\uFFFE' or '\uFFFF': escaped.Append('\uFFFD'); break;
                default:
                    if (char.IsSurrogate(c))
                    {
                        if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
                        {
                            escaped.Append(c).Append(text[++i]);
                        }
                        else
                        {
                            escaped.Append('\uFFFD');
                        }
                    }
                    else
                    {
                        escaped.Append(c);
                    }

                    break;
            }
        }

        return escaped.ToString();
    }

    public void Dispose() => _pipeline.Dispose();
}
