using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Latch.Azure.Json;

namespace Latch.Azure.Http;

/// <summary>
/// ARM requests: bearer token per attempt, ARM's <c>{"error":{"code","message"}}</c> turned into clear errors, and a
/// refusal to send the token to any host but the configured ARM endpoint (nextLink / polling URLs are checked).
/// </summary>
internal sealed class ArmTransport : IDisposable
{
    private readonly Func<CancellationToken, ValueTask<AccessToken>> _getToken;

    public ArmTransport(ArmClientOptions options, Func<CancellationToken, ValueTask<AccessToken>> getToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(getToken);
        _getToken = getToken;
        Options = options;
        Pipeline = new AzurePipeline("ARM", options, RetryPolicy.IsTransient);
    }

    public ArmClientOptions Options { get; }

    public AzurePipeline Pipeline { get; }

    public Task<T> GetAsync<T>(string operation, string url, JsonTypeInfo<T> type, CancellationToken cancellationToken) =>
        SendAsync(operation, HttpMethod.Get, url, null, response => response.IsSuccess ? Parse(operation, response, type) : Failure<T>(operation, response), cancellationToken);

    public Task<T> SendAsync<T>(string operation, HttpMethod method, string url, byte[]? json, Func<AzureResponse, Attempt<T>> interpret, CancellationToken cancellationToken, Delivery delivery = Delivery.Repeatable)
    {
        var target = Resolve(url);
        return Pipeline.SendAsync(
            operation,
            async ct =>
            {
                var token = await _getToken(ct).ConfigureAwait(false);
                var request = new HttpRequestMessage(method, target);
                request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token.Token.Reveal());
                if (json is not null)
                {
                    request.Content = new ByteArrayContent(json);
                    request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
                }

                return request;
            },
            interpret,
            cancellationToken,
            delivery);
    }

    /// <summary>Relative paths join the ARM base; absolute URLs must point at the same scheme, host and port.</summary>
    public Uri Resolve(string url)
    {
        if (Uri.TryCreate(url, UriKind.Absolute, out var absolute) && absolute.Scheme is "http" or "https")
        {
            var home = Pipeline.BaseAddress;
            if (!string.Equals(absolute.Scheme, home.Scheme, StringComparison.OrdinalIgnoreCase)
                || !string.Equals(absolute.Host, home.Host, StringComparison.OrdinalIgnoreCase)
                || absolute.Port != home.Port)
            {
                throw new AzureRequestException($"ARM pointed at {absolute.GetLeftPart(UriPartial.Authority)}, which is not the configured ARM endpoint {home.GetLeftPart(UriPartial.Authority)}; refusing to send the bearer token there.", status: null);
            }

            return absolute;
        }

        return new Uri(Pipeline.BaseAddress, url);
    }

    public static Attempt<T> Parse<T>(string operation, AzureResponse response, JsonTypeInfo<T> type)
    {
        try
        {
            var value = JsonSerializer.Deserialize(response.Body, type);
            return value is null ? Attempt<T>.Retry($"ARM {operation} returned an empty body") : Attempt<T>.Success(value);
        }
        catch (JsonException e)
        {
            return Attempt<T>.Retry($"ARM {operation} returned JSON that does not parse ({e.Message})");
        }
    }

    /// <summary>
    /// A non-2xx answer: retried when transient, else a clear error. With <see cref="Delivery.AtMostOnce"/> only
    /// 429 and 503 are retried, the two statuses by which ARM says it did not take the request on.
    /// </summary>
    public Attempt<T> Failure<T>(string operation, AzureResponse response, Delivery delivery = Delivery.Repeatable)
    {
        var (code, message) = DescribeError(response.Body);
        var detail = $"HTTP {response.Status}{(code is null ? "" : " " + code)}{(message is null ? "" : ": " + message)}";
        var retry = delivery == Delivery.AtMostOnce ? response.Status is 429 or 503 : RetryPolicy.IsTransient(response.Status);
        if (retry)
        {
            return Attempt<T>.Retry(detail, Pipeline.Policy.RetryAfter(response.Headers));
        }

        var notRepeated = delivery == Delivery.AtMostOnce && response.Status >= 500
            ? " ARM may have accepted the request, so it was not sent again; check whether it took effect before repeating it."
            : "";
        return Attempt<T>.Fail(new AzureRequestException($"ARM {operation} failed: {detail}.{Hint(operation, code, response.Status)}{notRepeated}", response.Status, code, 1));
    }

    public static (string? Code, string? Message) DescribeError(byte[] body)
    {
        try
        {
            var error = JsonSerializer.Deserialize(body, AzureJsonContext.Default.ArmErrorResponseWire)?.Error;
            return (error?.Code, error?.Message);
        }
        catch (JsonException)
        {
            return (null, null);
        }
    }

    private static string Hint(string operation, string? code, int status) => (code, status) switch
    {
        ("AuthorizationFailed", _) or (_, 403) when operation.Contains("runCommand", StringComparison.Ordinal) =>
            " Grant the caller the 'Virtual Machine Contributor' role (it includes Microsoft.Compute/virtualMachines/runCommand/action) on the VM or its resource group.",
        ("AuthorizationFailed", _) or (_, 403) =>
            " Grant the caller the 'Reader' role (or 'Virtual Machine Contributor') on the subscription or resource group.",
        ("InvalidAuthenticationToken" or "ExpiredAuthenticationToken", _) or (_, 401) =>
            " The bearer token was refused: check that it is for https://management.azure.com/ and the right tenant.",
        ("ResourceNotFound" or "ResourceGroupNotFound" or "SubscriptionNotFound", _) =>
            " Check the subscription, resource group and name.",
        ("Conflict", _) or (_, 409) when operation.Contains("runCommand", StringComparison.Ordinal) =>
            " Another run command is still running on this VM (one at a time per VM); wait for it to finish, then run this one.",
        _ => "",
    };

    public void Dispose() => Pipeline.Dispose();
}
