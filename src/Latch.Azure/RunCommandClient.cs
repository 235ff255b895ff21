using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Latch.Azure.Http;
using Latch.Azure.Json;

namespace Latch.Azure;

/// <summary>
/// ARM run-command on a Linux VM (<c>RunShellScript</c>): POST, then follow <c>Azure-AsyncOperation</c> (or
/// <c>Location</c>) with Retry-After until the command ends, and split the output into stdout and stderr. Thread-safe.
/// </summary>
public sealed partial class RunCommandClient : IDisposable
{
    private readonly ArmTransport _arm;

    public RunCommandClient(ArmClientOptions options, Func<CancellationToken, ValueTask<AccessToken>> getToken) => _arm = new ArmTransport(options, getToken);

    public RunCommandClient(ArmClientOptions options, global::Azure.Core.TokenCredential credential)
        : this(options, ArmClient.TokenFrom(credential))
    {
    }

    /// <summary>
    /// Runs <paramref name="script"/> on the VM (<paramref name="vmId"/> is its ARM resource id) and waits up to
    /// <paramref name="timeout"/> for the result. A script that exits non-zero is a result with Succeeded false,
    /// not an exception; ARM and transport failures are <see cref="AzureRequestException"/>s. The POST that starts the
    /// script is sent again only when it provably never reached ARM (no connection) or ARM refused it with 429/503;
    /// a dropped answer, timeout or other error surfaces instead, since the script may already be running.
    /// </summary>
    public async Task<RunCommandResult> RunShellScriptAsync(
        string vmId,
        IReadOnlyList<string> script,
        IReadOnlyDictionary<string, string>? parameters,
        TimeSpan timeout,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(vmId);
        ArgumentNullException.ThrowIfNull(script);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(timeout, TimeSpan.Zero);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        var body = JsonSerializer.SerializeToUtf8Bytes(
            new RunCommandInputWire
            {
                CommandId = "RunShellScript",
                Script = [.. script],
                Parameters = parameters is null ? null : [.. parameters.Select(p => new RunCommandParameterWire { Name = p.Key, Value = p.Value })],
            },
            AzureJsonContext.Default.RunCommandInputWire);
        const string operation = "POST runCommand";
        try
        {
            var started = await _arm.SendAsync(
                operation,
                HttpMethod.Post,
                $"{vmId.TrimEnd('/')}/runCommand?api-version={_arm.Options.ComputeApiVersion}",
                body,
                response => response.IsSuccess ? Attempt<StartedCommand>.Success(Started(response)) : _arm.Failure<StartedCommand>(operation, response, Delivery.AtMostOnce),
                deadline.Token,
                // a repeated POST could run the script twice: resend only what provably never reached ARM
                Delivery.AtMostOnce).ConfigureAwait(false);
            if (started.Result is { } immediate)
            {
                return immediate;
            }

            return await PollAsync(started, deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested && deadline.IsCancellationRequested)
        {
            throw new AzureRequestException(
                $"ARM run command on {vmId} did not finish within {timeout.TotalSeconds:0.#} s. The command may still be running on the VM; run commands time out on the VM after 90 minutes.",
                null, null, 0, e);
        }
    }

    private async Task<RunCommandResult> PollAsync(StartedCommand started, CancellationToken cancellationToken)
    {
        var time = _arm.Options.TimeProvider;
        var wait = started.RetryAfter;
        while (true)
        {
            var delay = wait ?? _arm.Options.PollInterval;
            Log.Polling(_arm.Pipeline.Logger, "runCommand", delay.TotalMilliseconds);
            await Task.Delay(delay, time, cancellationToken).ConfigureAwait(false);
            var poll = started.AsyncOperation is { } asyncOperation
                ? await PollAsyncOperationAsync(asyncOperation, cancellationToken).ConfigureAwait(false)
                : await PollLocationAsync(started.Location!, cancellationToken).ConfigureAwait(false);
            if (poll.Result is { } result)
            {
                return result;
            }

            if (poll.FetchLocation && started.Location is not null)
            {
                // the operation ended but its status carried no output: the Location URL has the result
                started = started with { AsyncOperation = null };
                wait = TimeSpan.Zero;
                continue;
            }

            wait = poll.RetryAfter;
        }
    }

    private Task<PollOutcome> PollAsyncOperationAsync(string url, CancellationToken cancellationToken)
    {
        const string operation = "GET runCommand operation status";
        return _arm.SendAsync(operation, HttpMethod.Get, url, null, response =>
        {
            if (!response.IsSuccess)
            {
                return _arm.Failure<PollOutcome>(operation, response);
            }

            var parsed = ArmTransport.Parse(operation, response, AzureJsonContext.Default.AsyncOperationWire);
            if (parsed.RetryReason is { } reason)
            {
                return Attempt<PollOutcome>.Retry(reason);
            }

            var status = parsed.Value!;
            return status.Status switch
            {
                "Succeeded" when status.Properties?.Output?.Value is { Count: > 0 } output => Attempt<PollOutcome>.Success(new PollOutcome(ToResult(output), null, false)),
                "Succeeded" => Attempt<PollOutcome>.Success(new PollOutcome(null, null, true)),
                "Failed" or "Canceled" => Attempt<PollOutcome>.Fail(new AzureRequestException(
                    $"ARM run command {status.Status.ToLowerInvariant()}: {status.Error?.Code ?? "no error code"}: {status.Error?.Message ?? "no message"}",
                    response.Status, status.Error?.Code, 1)),
                _ => Attempt<PollOutcome>.Success(new PollOutcome(null, _arm.Pipeline.Policy.RetryAfter(response.Headers), false)),
            };
        }, cancellationToken);
    }

    private Task<PollOutcome> PollLocationAsync(string url, CancellationToken cancellationToken)
    {
        const string operation = "GET runCommand result";
        return _arm.SendAsync(operation, HttpMethod.Get, url, null, response =>
        {
            if (response.Status == 202)
            {
                return Attempt<PollOutcome>.Success(new PollOutcome(null, _arm.Pipeline.Policy.RetryAfter(response.Headers), false));
            }

            if (!response.IsSuccess)
            {
                return _arm.Failure<PollOutcome>(operation, response);
            }

            var parsed = ArmTransport.Parse(operation, response, AzureJsonContext.Default.RunCommandResultWire);
            return parsed.RetryReason is { } reason
                ? Attempt<PollOutcome>.Retry(reason)
                : parsed.Value!.Value is { Count: > 0 } output
                    ? Attempt<PollOutcome>.Success(new PollOutcome(ToResult(output), null, false))
                    : Attempt<PollOutcome>.Retry($"ARM {operation} returned no 'value' entries");
        }, cancellationToken);
    }

    private StartedCommand Started(AzureResponse response)
    {
        if (response.Status == 200 && response.Body.Length > 0)
        {
            try
            {
                if (JsonSerializer.Deserialize(response.Body, AzureJsonContext.Default.RunCommandResultWire)?.Value is { Count: > 0 } output)
                {
                    return new StartedCommand(null, null, null, ToResult(output));
                }
            }
            catch (JsonException)
            {
                // not a finished result: fall through to the polling headers
            }
        }

        var asyncOperation = Header(response, "Azure-AsyncOperation");
        var location = response.Headers.Location?.ToString() ?? Header(response, "Location");
        if (asyncOperation is null && location is null)
        {
            throw new AzureRequestException($"ARM accepted the run command (HTTP {response.Status}) but sent neither Azure-AsyncOperation nor Location to follow.", response.Status);
        }

        // check now that polling URLs stay on the ARM endpoint, before any token goes there
        _ = asyncOperation is null ? null : _arm.Resolve(asyncOperation);
        _ = location is null ? null : _arm.Resolve(location);
        return new StartedCommand(asyncOperation, location, _arm.Pipeline.Policy.RetryAfter(response.Headers), null);
    }

    private static string? Header(AzureResponse response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? values.FirstOrDefault() : null;

    internal static RunCommandResult ToResult(IReadOnlyList<InstanceViewStatusWire> output)
    {
        var first = output[0];
        var (stdout, stderr) = SplitOutput(first.Message ?? "");
        var code = first.Code ?? "";
        int? exitCode = ExitStatus().Match(first.Message ?? "") is { Success: true } m ? int.Parse(m.Groups[1].ValueSpan, CultureInfo.InvariantCulture) : null;
        var succeeded = code.Contains("succeeded", StringComparison.OrdinalIgnoreCase) && exitCode is null or 0;
        return new RunCommandResult(succeeded, code, first.DisplayStatus, stdout, stderr, exitCode ?? (succeeded ? 0 : null), first.Message ?? "");
    }

    /// <summary>Splits ARM's <c>…[stdout]\n{out}\n[stderr]\n{err}</c> message; text without markers is all stdout.</summary>
    internal static (string Stdout, string Stderr) SplitOutput(string message)
    {
        const string outMarker = "[stdout]\n", errMarker = "\n[stderr]\n";
        var outAt = message.IndexOf(outMarker, StringComparison.Ordinal);
        if (outAt < 0)
        {
            return (message, "");
        }

        var bodyStart = outAt + outMarker.Length;
        var errAt = message.IndexOf(errMarker, bodyStart - 1, StringComparison.Ordinal);
        return errAt < 0
            ? (message[bodyStart..], "")
            : (errAt < bodyStart ? "" : message[bodyStart..errAt], message[(errAt + errMarker.Length)..]);
    }

    [GeneratedRegex(@"exit status=(\d+)", RegexOptions.CultureInvariant)]
    private static partial Regex ExitStatus();

    public void Dispose() => _arm.Dispose();

    private sealed record StartedCommand(string? AsyncOperation, string? Location, TimeSpan? RetryAfter, RunCommandResult? Result);

    private sealed record PollOutcome(RunCommandResult? Result, TimeSpan? RetryAfter, bool FetchLocation);
}
