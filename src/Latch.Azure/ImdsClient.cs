using System.Text.Json;
using Latch.Azure.Http;
using Latch.Azure.Json;

namespace Latch.Azure;

/// <summary>
/// Instance Metadata Service client. Immutable and thread-safe: build one and share it.
/// Retries transient failures and also 404/410, which IMDS returns while the VM is still booting.
/// </summary>
public sealed class ImdsClient : IDisposable
{
    private readonly AzurePipeline _pipeline;
    private readonly string _apiVersion;

    public ImdsClient(ImdsClientOptions? options = null)
    {
        options ??= new ImdsClientOptions();
        _apiVersion = options.ApiVersion;
        _pipeline = new AzurePipeline("IMDS", options, IsRetriable);
    }

    /// <summary>IMDS answers 404 and 410 while it is not yet ready after boot; azure-init and waagent retry them.</summary>
    internal static bool IsRetriable(int status) => status is 404 or 410 || RetryPolicy.IsTransient(status);

    /// <summary>GET /metadata/instance: compute, OS profile, SSH public keys, network.</summary>
    public Task<ImdsInstance> GetInstanceAsync(CancellationToken cancellationToken = default) =>
        _pipeline.SendAsync(
            "GET /metadata/instance",
            _ => ValueTask.FromResult(CreateRequest($"/metadata/instance?api-version={Uri.EscapeDataString(_apiVersion)}")),
            response => response.IsSuccess ? ParseOrRetry(response.Body) : _pipeline.Classify<ImdsInstance>(response, "GET /metadata/instance"),
            cancellationToken);

    internal static HttpRequestMessage CreateRequest(string pathAndQuery)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, pathAndQuery);
        request.Headers.Add("Metadata", "true");
        return request;
    }

    private static Attempt<ImdsInstance> ParseOrRetry(byte[] body)
    {
        try
        {
            return Attempt<ImdsInstance>.Success(Parse(body));
        }
        catch (AzureFormatException e)
        {
            // a half-written or garbled body is worth another request
            return Attempt<ImdsInstance>.Retry(e.Message);
        }
    }

    /// <summary>
    /// Parses a saved <c>/metadata/instance</c> document (e.g. <c>latchd provision --dry-run --imds-json FILE</c>).
    /// </summary>
    /// <exception cref="AzureFormatException">The JSON is malformed or lacks a field Latch relies on.</exception>
    public static ImdsInstance ParseInstance(ReadOnlySpan<byte> json) => Parse(json);

    /// <summary>Parses an IMDS instance document; tolerant of unknown fields, strict about the ones Latch relies on.</summary>
    internal static ImdsInstance Parse(ReadOnlySpan<byte> json)
    {
        ImdsInstanceWire? wire;
        try
        {
            wire = JsonSerializer.Deserialize(json, AzureJsonContext.Default.ImdsInstanceWire);
        }
        catch (JsonException e)
        {
            throw new AzureFormatException($"IMDS instance metadata is not valid JSON ({e.Message}); {json.Length} bytes received.", e);
        }

        var compute = wire?.Compute ?? throw new AzureFormatException("IMDS instance metadata has no 'compute' object.");
        var name = Required(compute.Name, "compute.name");
        var vmId = Required(compute.VmId, "compute.vmId");
        ImdsOsProfile? osProfile = null;
        if (compute.OsProfile is { } os)
        {
            osProfile = new ImdsOsProfile(
                Required(os.AdminUsername, "compute.osProfile.adminUsername"),
                Required(os.ComputerName, "compute.osProfile.computerName"),
                os.DisablePasswordAuthentication ?? true);
        }

        var keys = new List<ImdsPublicKey>();
        foreach (var (key, index) in (compute.PublicKeys ?? []).Select((k, i) => (k, i)))
        {
            // cloud-init #3825: keyData arrives with CR/LF inside and at the end
            var data = Required(key.KeyData, $"compute.publicKeys[{index}].keyData").Replace("\r", "", StringComparison.Ordinal).Replace("\n", "", StringComparison.Ordinal).Trim();
            keys.Add(new ImdsPublicKey(data, string.IsNullOrEmpty(key.Path) ? null : key.Path));
        }

        var nics = new List<ImdsNetworkInterface>();
        foreach (var nic in wire!.Network?.Interfaces ?? [])
        {
            var addresses = (nic.Ipv4?.IpAddress ?? [])
                .Where(a => !string.IsNullOrEmpty(a.PrivateIpAddress))
                .Select(a => new ImdsIpAddress(a.PrivateIpAddress!, string.IsNullOrEmpty(a.PublicIpAddress) ? null : a.PublicIpAddress))
                .ToList();
            var subnets = (nic.Ipv4?.Subnet ?? [])
                .Where(s => !string.IsNullOrEmpty(s.Address))
                .Select(s => new ImdsSubnet(s.Address!, s.Prefix))
                .ToList();
            nics.Add(new ImdsNetworkInterface(nic.MacAddress, addresses, subnets));
        }

        return new ImdsInstance(
            new ImdsCompute(
                name, vmId, compute.Location, compute.ResourceGroupName, compute.SubscriptionId, compute.VmSize,
                ParseTags(compute), osProfile, keys, Empty(compute.CustomData), Empty(compute.UserData)),
            nics);
    }

    private static Dictionary<string, string> ParseTags(ImdsComputeWire compute)
    {
        var tags = new Dictionary<string, string>(StringComparer.Ordinal);
        if (compute.TagsList is { Count: > 0 } list)
        {
            foreach (var tag in list.Where(t => !string.IsNullOrEmpty(t.Name)))
            {
                tags[tag.Name!] = tag.Value ?? "";
            }
        }
        else if (!string.IsNullOrEmpty(compute.Tags))
        {
            foreach (var pair in compute.Tags.Split(';', StringSplitOptions.RemoveEmptyEntries))
            {
                var colon = pair.IndexOf(':', StringComparison.Ordinal);
                tags[colon < 0 ? pair : pair[..colon]] = colon < 0 ? "" : pair[(colon + 1)..];
            }
        }

        return tags;
    }

    private static string Required(string? value, string field) =>
        string.IsNullOrEmpty(value) ? throw new AzureFormatException($"IMDS instance metadata lacks '{field}'.") : value;

    private static string? Empty(string? value) => string.IsNullOrEmpty(value) ? null : value;

    public void Dispose() => _pipeline.Dispose();
}
