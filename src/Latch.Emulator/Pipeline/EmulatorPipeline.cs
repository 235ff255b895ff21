using System.Text;
using Latch.Emulator.Faults;
using Latch.Emulator.State;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Logging;

namespace Latch.Emulator.Pipeline;

/// <summary>
/// The middleware every endpoint group runs first: it logs and records each request (masked query, status,
/// duration) and applies injected faults, so faults reach endpoints other code maps on the same app too.
/// </summary>
internal static class EmulatorPipeline
{
    private const string FaultItem = "latch.fault";

    /// <param name="groupOf">The endpoint group a request belongs to (the IMDS app serves imds and identity).</param>
    public static void UseEmulatorPipeline(this WebApplication app, EmulatorState state, Func<HttpContext, string> groupOf)
    {
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Latch.Emulator.Requests");
        app.Use(async (context, next) =>
        {
            var group = groupOf(context);
            var started = state.Time.GetTimestamp();
            var target = QueryRedaction.Render(context.Request);
            try
            {
                await next(context).ConfigureAwait(false);
            }
            finally
            {
                var elapsed = state.Time.GetElapsedTime(started).TotalMilliseconds;
                var fault = context.Items.TryGetValue(FaultItem, out var f) ? (FaultRule?)f : null;
                var aborted = fault?.Kind is FaultKind.Reset or FaultKind.Lost or FaultKind.Timeout or FaultKind.Truncate;
                var status = aborted ? 0 : context.Response.StatusCode;
                var remote = context.Connection.RemoteIpAddress?.ToString() ?? "?";
                state.Record(new RequestRecord(
                    state.Time.GetUtcNow(), group, context.Request.Method, target, status, elapsed, remote,
                    context.Request.Headers.UserAgent.ToString() is { Length: > 0 } ua ? ua : null, fault?.ToString()));
                Log.Request(logger, group, context.Request.Method, target, status, elapsed, remote, fault is null ? "" : $" [fault {fault}]");
            }
        });

        app.Use(async (context, next) =>
        {
            var group = groupOf(context);
            var fault = state.Faults.TryTake(group, context.Request.Path.Value ?? "/", state.Time.GetUtcNow());
            if (fault is null)
            {
                await next(context).ConfigureAwait(false);
                return;
            }

            context.Items[FaultItem] = fault;
            await ApplyAsync(fault, group, context, next, state.Time).ConfigureAwait(false);
        });
    }

    private static async Task ApplyAsync(FaultRule fault, string group, HttpContext context, RequestDelegate next, TimeProvider time)
    {
        var xml = group == "wireserver";
        switch (fault.Kind)
        {
            case FaultKind.Latency:
                await DelayAsync(TimeSpan.FromMilliseconds(fault.Value ?? 0), time, context.RequestAborted).ConfigureAwait(false);
                await next(context).ConfigureAwait(false);
                break;
            case FaultKind.Status:
                await WriteErrorAsync(context, fault.Value ?? 500, group).ConfigureAwait(false);
                break;
            case FaultKind.Gone:
                await WriteErrorAsync(context, 410, group).ConfigureAwait(false);
                break;
            case FaultKind.Throttle:
                context.Response.Headers.RetryAfter = (fault.Value ?? 1).ToString(System.Globalization.CultureInfo.InvariantCulture);
                await WriteErrorAsync(context, 429, group).ConfigureAwait(false);
                break;
            case FaultKind.Limit:
                context.Response.Headers.RetryAfter = FaultRegistry.SecondsLeftInWindow(time.GetUtcNow()).ToString(System.Globalization.CultureInfo.InvariantCulture);
                await WriteErrorAsync(context, 429, group).ConfigureAwait(false);
                break;
            case FaultKind.Reset:
                context.Abort();
                break;
            case FaultKind.Lost:
            {
                // the endpoint writes into a buffer that is thrown away, so nothing of its response reaches the socket
                var original = context.Response.Body;
                using var discard = new MemoryStream();
                context.Response.Body = discard;
                try
                {
                    await next(context).ConfigureAwait(false);
                }
                finally
                {
                    context.Response.Body = original;
                    context.Abort();
                }

                break;
            }

            case FaultKind.Timeout:
                await DelayAsync(TimeSpan.FromMilliseconds(fault.Value ?? 30_000), time, context.RequestAborted).ConfigureAwait(false);
                context.Abort();
                break;
            case FaultKind.Truncate:
            {
                var body = Encoding.UTF8.GetBytes(xml ? "<?xml version=\"1.0\" encoding=\"utf-8\"?><GoalState><Incarnation>1</Incarnation>" : "{\"compute\":{\"name\":\"");
                context.Response.StatusCode = 200;
                context.Response.ContentType = xml ? "text/xml; charset=utf-8" : "application/json; charset=utf-8";
                context.Response.ContentLength = body.Length + 4096;
                await context.Response.Body.WriteAsync(body, context.RequestAborted).ConfigureAwait(false);
                await context.Response.Body.FlushAsync(context.RequestAborted).ConfigureAwait(false);

                // Give the transport a moment to put the flushed bytes on the wire: an immediate abort can drop them,
                // and the client would see a reset instead of a short body. Real time on purpose (not the scenario clock).
                await Task.Delay(TimeSpan.FromMilliseconds(50), CancellationToken.None).ConfigureAwait(false);
                context.Abort();
                break;
            }

            case FaultKind.Malformed:
                context.Response.StatusCode = 200;
                context.Response.ContentType = xml ? "text/xml; charset=utf-8" : "application/json; charset=utf-8";
                await context.Response.WriteAsync(xml ? "<?xml version=\"1.0\" encoding=\"utf-8\"?><GoalState><Incarnation>1</Incarn" : "{\"compute\": {\"name\": \"vm\", ", context.RequestAborted).ConfigureAwait(false);
                break;
        }
    }

    private static async Task DelayAsync(TimeSpan delay, TimeProvider time, CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(delay, time, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // the client gave up first: that is the point of a timeout fault
        }
    }

    /// <summary>The error body each Azure service family uses for a status code.</summary>
    internal static Task WriteErrorAsync(HttpContext context, int status, string group)
    {
        context.Response.StatusCode = status;
        var code = ErrorCode(status);
        var message = status switch
        {
            410 => "The resource is temporarily gone. Retry after some time.",
            429 => "Too many requests. Retry after the time in the Retry-After header.",
            503 => "The service is temporarily unavailable. Retry after some time.",
            500 => "Internal server error. Retry after some time.",
            >= 500 => $"{ReasonPhrases.GetReasonPhrase(status)}. Retry after some time.",
            _ => $"{ReasonPhrases.GetReasonPhrase(status)} (HTTP {status}).",
        };
        switch (group)
        {
            case "wireserver":
                context.Response.ContentType = "text/xml; charset=utf-8";
                return context.Response.WriteAsync(WireErrorXml(status >= 500 ? "ServiceError" : code, message), context.RequestAborted);
            case "hostgaplugin":
                context.Response.ContentType = "text/plain; charset=utf-8";
                return context.Response.WriteAsync(message, context.RequestAborted);
            case "imds":
                context.Response.ContentType = "application/json; charset=utf-8";
                return context.Response.WriteAsync($"{{\"error\":\"{message}\"}}", context.RequestAborted);
            case "identity":
                context.Response.ContentType = "application/json; charset=utf-8";
                var oauth = status switch { 429 => "too_many_requests", >= 500 => "server_error", 401 or 403 => "access_denied", _ => "invalid_request" };
                return context.Response.WriteAsync($"{{\"error\":\"{oauth}\",\"error_description\":\"{message}\"}}", context.RequestAborted);
            default:
                context.Response.ContentType = "application/json; charset=utf-8";
                return context.Response.WriteAsync($"{{\"error\":{{\"code\":\"{code}\",\"message\":\"{message}\"}}}}", context.RequestAborted);
        }
    }

    /// <summary>ARM's and Key Vault's <c>error.code</c> for a bare status: its reason phrase without spaces (403 → Forbidden).</summary>
    internal static string ErrorCode(int status) => status switch
    {
        429 => "TooManyRequests",
        _ => ReasonPhrases.GetReasonPhrase(status) is { Length: > 0 } phrase
            ? string.Concat(phrase.Split(' ', '-')).Replace("'", "", StringComparison.Ordinal)
            : status >= 500 ? "InternalServerError" : "BadRequest",
    };

    internal static string WireErrorXml(string code, string message) =>
        $"<?xml version=\"1.0\" encoding=\"utf-8\"?><Error xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\"><Code>{System.Security.SecurityElement.Escape(code)}</Code><Message>{System.Security.SecurityElement.Escape(message)}</Message><Details /></Error>";
}
