using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Latch.Azure.Http;

/// <summary>A fully read response: status, headers and a bounded body.</summary>
internal sealed record AzureResponse(int Status, HttpResponseHeaders Headers, HttpContentHeaders? ContentHeaders, byte[] Body)
{
    public bool IsSuccess => Status is >= 200 and < 300;
}

/// <summary>What one attempt came to: a value, a reason to try again, or a final failure.</summary>
internal readonly struct Attempt<T>
{
    private Attempt(T? value, string? retryReason, Exception? failure, TimeSpan? retryAfter)
    {
        Value = value;
        RetryReason = retryReason;
        Failure = failure;
        RetryAfter = retryAfter;
    }

    public T? Value { get; }

    public string? RetryReason { get; }

    public Exception? Failure { get; }

    public TimeSpan? RetryAfter { get; }

    public static Attempt<T> Success(T value) => new(value, null, null, null);

    public static Attempt<T> Retry(string reason, TimeSpan? retryAfter = null) => new(default, reason, null, retryAfter);

    public static Attempt<T> Fail(Exception failure) => new(default, null, failure, null);
}

/// <summary>Whether a request may be sent again after it could have reached the server.</summary>
internal enum Delivery
{
    /// <summary>Repeating it is harmless (reads, token requests): every transient failure is retried.</summary>
    Repeatable,

    /// <summary>
    /// It acts on the server (run-command POST): a new attempt only when the last one provably never reached the
    /// server (it failed before it was handed to the socket handler, e.g. getting the token, or the connection could
    /// not be opened). A drop, reset or timeout after sending surfaces instead.
    /// </summary>
    AtMostOnce,
}

/// <summary>
/// The send loop every client shares: per-attempt deadline, total deadline, jittered backoff, Retry-After, bounded
/// attempts, and one clear <see cref="AzureRequestException"/> when it gives up. Thread-safe; owns its HttpClient.
/// </summary>
internal sealed class AzurePipeline : IDisposable
{
    private readonly HttpClient _http;
    private readonly TimeProvider _time;
    private readonly TimeSpan _perCall;
    private readonly int _maxBody;
    private readonly Func<int, bool> _isRetriable;
    private readonly ILogger _logger;

    public AzurePipeline(string endpoint, AzureClientOptions options, Func<int, bool> isRetriable)
    {
        options.Validate(endpoint);
        Endpoint = endpoint;
        _time = options.TimeProvider;
        _perCall = options.PerCallTimeout;
        _maxBody = options.MaxResponseBytes;
        _isRetriable = isRetriable;
        _logger = options.Logger ?? NullLogger.Instance;
        Policy = new RetryPolicy(options.Retry, options.TimeProvider);
        BaseAddress = options.BaseAddress;
        var handler = options.Handler ?? HttpHandlerFactory.Create(options);
        _http = new HttpClient(handler, disposeHandler: options.Handler is null)
        {
            BaseAddress = options.BaseAddress,
            // deadlines are ours (per attempt and total), not HttpClient's 100 s default
            Timeout = Timeout.InfiniteTimeSpan,
        };
        _http.DefaultRequestHeaders.UserAgent.TryParseAdd(options.UserAgent);
    }

    public string Endpoint { get; }

    public Uri BaseAddress { get; }

    public RetryPolicy Policy { get; }

    public ILogger Logger => _logger;

    /// <summary>The usual reading of a non-2xx response: retry when the status is retriable here, else fail.</summary>
    public Attempt<T> Classify<T>(AzureResponse response, string operation, Func<AzureResponse, (string? Code, string? Message)>? describe = null)
    {
        var (code, message) = describe?.Invoke(response) ?? (null, null);
        var detail = $"HTTP {response.Status}{(code is null ? "" : " " + code)}{(message is null ? "" : ": " + message)}";
        return _isRetriable(response.Status)
            ? Attempt<T>.Retry(detail, Policy.RetryAfter(response.Headers))
            : Attempt<T>.Fail(new AzureRequestException($"{Endpoint} {operation} failed: {detail}", response.Status, code, 1));
    }

    public async Task<T> SendAsync<T>(
        string operation,
        Func<CancellationToken, ValueTask<HttpRequestMessage>> createRequest,
        Func<AzureResponse, Attempt<T>> interpret,
        CancellationToken cancellationToken,
        Delivery delivery = Delivery.Repeatable)
    {
        var options = Policy.Options;
        var started = _time.GetTimestamp();
        string lastError = "no attempt was made";
        int? lastStatus = null;
        Exception? lastException = null;
        for (var attempt = 1; ; attempt++)
        {
            var remaining = options.TotalDeadline - _time.GetElapsedTime(started);
            if (remaining <= TimeSpan.Zero)
            {
                throw GiveUp(operation, attempt - 1, started, lastError, lastStatus, lastException, "the total deadline passed");
            }

            var attemptTimeout = remaining < _perCall ? remaining : _perCall;
            TimeSpan? serverWait = null;
            // set once the request is handed to the socket handler: failures before that (token fetch) sent nothing
            var sending = new StrongBox<bool>();
            using (var attemptCts = new CancellationTokenSource(attemptTimeout, _time))
            using (var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, attemptCts.Token))
            {
                try
                {
                    var response = await SendOnceAsync(createRequest, sending, linked.Token).ConfigureAwait(false);
                    lastStatus = response.Status;
                    var outcome = interpret(response);
                    if (outcome.Failure is { } failure)
                    {
                        throw Stamp(failure, attempt);
                    }

                    if (outcome.RetryReason is null)
                    {
                        return outcome.Value!;
                    }

                    lastError = outcome.RetryReason;
                    lastException = null;
                    serverWait = outcome.RetryAfter;
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    throw;
                }
                catch (OperationCanceledException e) when (attemptCts.IsCancellationRequested)
                {
                    lastError = $"no complete response within {Seconds(attemptTimeout)}";
                    if (delivery == Delivery.AtMostOnce && sending.Value)
                    {
                        throw NotRepeated(operation, attempt, lastError, e);
                    }

                    (lastStatus, lastException) = (null, e);
                }
                catch (HttpRequestException e) when (e.InnerException is System.Security.Authentication.AuthenticationException)
                {
                    // a certificate the client does not trust will not become trusted by asking again
                    throw new AzureRequestException(
                        $"{Endpoint} {operation} ({BaseAddress}): the TLS handshake failed ({e.InnerException.Message}). If the server uses a private CA (the emulator), set CaCertificatePath to its CA certificate.",
                        null, null, attempt, e);
                }
                catch (HttpRequestException e)
                {
                    lastError = $"connection failed: {e.Message}";
                    if (delivery == Delivery.AtMostOnce && sending.Value && !NeverSent(e))
                    {
                        throw NotRepeated(operation, attempt, lastError, e);
                    }

                    (lastStatus, lastException) = (null, e);
                }
                catch (IOException e)
                {
                    lastError = $"response cut short: {e.Message}";
                    if (delivery == Delivery.AtMostOnce && sending.Value)
                    {
                        throw NotRepeated(operation, attempt, lastError, e);
                    }

                    (lastStatus, lastException) = (null, e);
                }
            }

            if (attempt >= options.MaxAttempts)
            {
                throw GiveUp(operation, attempt, started, lastError, lastStatus, lastException, $"all {options.MaxAttempts} attempts were used");
            }

            var delay = Policy.BackoffAfter(attempt);
            if (serverWait is { } wait && wait > delay)
            {
                delay = wait;
            }

            remaining = options.TotalDeadline - _time.GetElapsedTime(started);
            if (delay >= remaining)
            {
                var why = serverWait is { } w && w >= remaining
                    ? $"the server asked to wait {Seconds(w)} (Retry-After), past the total deadline"
                    : "the next backoff would pass the total deadline";
                throw GiveUp(operation, attempt, started, lastError, lastStatus, lastException, why);
            }

            Log.Retrying(_logger, Endpoint, operation, attempt, lastError, delay.TotalMilliseconds);
            await Task.Delay(delay, _time, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task<AzureResponse> SendOnceAsync(Func<CancellationToken, ValueTask<HttpRequestMessage>> createRequest, StrongBox<bool> sending, CancellationToken cancellationToken)
    {
        using var request = await createRequest(cancellationToken).ConfigureAwait(false);
        sending.Value = true;
        using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        var body = await ReadBoundedAsync(response.Content, cancellationToken).ConfigureAwait(false);
        return new AzureResponse((int)response.StatusCode, response.Headers, response.Content.Headers, body);
    }

    private async Task<byte[]> ReadBoundedAsync(HttpContent content, CancellationToken cancellationToken)
    {
        if (content.Headers.ContentLength is { } declared && declared > _maxBody)
        {
            throw new AzureRequestException($"{Endpoint} sent a {declared}-byte response; the limit is {_maxBody} bytes.", status: null);
        }

        var stream = await content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            using var buffer = new MemoryStream();
            var chunk = new byte[16 * 1024];
            int read;
            while ((read = await stream.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
            {
                if (buffer.Length + read > _maxBody)
                {
                    throw new AzureRequestException($"{Endpoint} sent a response over the {_maxBody}-byte limit.", status: null);
                }

                buffer.Write(chunk, 0, read);
            }

            return buffer.ToArray();
        }
    }

    private AzureRequestException GiveUp(string operation, int attempts, long started, string lastError, int? status, Exception? inner, string why)
    {
        var elapsed = _time.GetElapsedTime(started);
        Log.GaveUp(_logger, Endpoint, operation, attempts, lastError);
        return new AzureRequestException(
            $"{Endpoint} {operation} ({BaseAddress}) failed after {attempts} attempt(s) in {Seconds(elapsed)}: {why}. Last error: {lastError}. " +
            "Check that the endpoint is reachable from this machine, or raise RetryOptions.TotalDeadline/MaxAttempts.",
            status, null, attempts, inner);
    }

    /// <summary>
    /// True only when the request cannot have reached the server: the name did not resolve, or the TCP/TLS
    /// connection could not be opened (refused, unreachable). A reset or close after connecting proves nothing.
    /// </summary>
    internal static bool NeverSent(HttpRequestException e)
    {
        if (e.HttpRequestError == HttpRequestError.NameResolutionError)
        {
            return true;
        }

        if (e.HttpRequestError is not (HttpRequestError.ConnectionError or HttpRequestError.SecureConnectionError))
        {
            return false;
        }

        for (Exception? inner = e.InnerException; inner is not null; inner = inner.InnerException)
        {
            if (inner is System.Net.Sockets.SocketException socket)
            {
                return socket.SocketErrorCode is System.Net.Sockets.SocketError.ConnectionRefused
                    or System.Net.Sockets.SocketError.HostUnreachable
                    or System.Net.Sockets.SocketError.NetworkUnreachable
                    or System.Net.Sockets.SocketError.HostDown
                    or System.Net.Sockets.SocketError.HostNotFound
                    or System.Net.Sockets.SocketError.TryAgain
                    or System.Net.Sockets.SocketError.NoData
                    or System.Net.Sockets.SocketError.AddressNotAvailable;
            }
        }

        return false;
    }

    private AzureRequestException NotRepeated(string operation, int attempt, string error, Exception inner)
    {
        Log.GaveUp(_logger, Endpoint, operation, attempt, error);
        return new AzureRequestException(
            $"{Endpoint} {operation} ({BaseAddress}) failed after the request was sent: {error}. The server may have accepted it, " +
            "so it was not sent again; check whether it took effect before repeating it.",
            null, null, attempt, inner);
    }

    private static Exception Stamp(Exception failure, int attempt) =>
        failure is AzureRequestException { Attempts: 1 } are && attempt != 1
            ? new AzureRequestException(are.Message + $" (after {attempt} attempts)", are.Status, are.ErrorCode, attempt, are.InnerException)
            : failure;

    private static string Seconds(TimeSpan span) => span.TotalSeconds.ToString("0.0##", System.Globalization.CultureInfo.InvariantCulture) + " s";

    public void Dispose() => _http.Dispose();
}
