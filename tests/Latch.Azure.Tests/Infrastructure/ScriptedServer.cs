using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Latch.Azure.Tests.Infrastructure;

/// <summary>One request as the server received it.</summary>
internal sealed record ReceivedRequest(string Method, string Target, IReadOnlyDictionary<string, string> Headers, byte[] Body)
{
    public string BodyText => Encoding.UTF8.GetString(Body);

    public string? Header(string name) => Headers.TryGetValue(name, out var value) ? value : null;
}

/// <summary>What the server does with request number n (0-based).</summary>
internal abstract record ServerAction
{
    public static ServerAction Json(int status, string body, params (string Name, string Value)[] headers) =>
        new Respond(status, Encoding.UTF8.GetBytes(body), "application/json", headers);

    public static ServerAction Xml(int status, string body, params (string Name, string Value)[] headers) =>
        new Respond(status, Encoding.UTF8.GetBytes(body), "text/xml; charset=utf-8", headers);

    public static ServerAction Status(int status, params (string Name, string Value)[] headers) =>
        new Respond(status, [], null, headers);
}

internal sealed record Respond(int StatusCode, byte[] Body, string? ContentType, (string Name, string Value)[] Headers) : ServerAction;

/// <summary>Closes the connection with a TCP RST before answering.</summary>
internal sealed record Reset : ServerAction;

/// <summary>Never answers (until the server is disposed).</summary>
internal sealed record Hang : ServerAction;

/// <summary>Declares <paramref name="DeclaredLength"/> bytes, sends fewer, then closes.</summary>
internal sealed record Truncated(int StatusCode, byte[] Body, int DeclaredLength) : ServerAction;

/// <summary>
/// A real HTTP/1.1 server on 127.0.0.1:0 (optionally TLS) whose answers each test scripts: the fake is the server,
/// never an interface of our code. One request per connection (Connection: close) keeps the script exact.
/// </summary>
internal sealed class ScriptedServer : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly Func<ReceivedRequest, int, ServerAction> _script;
    private readonly X509Certificate2? _certificate;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<ReceivedRequest> _requests = [];
    private readonly Lock _gate = new();
    private readonly Task _acceptLoop;

    public ScriptedServer(Func<ReceivedRequest, int, ServerAction> script, X509Certificate2? certificate = null)
    {
        _script = script;
        _certificate = certificate;
        _listener.Start();
        var port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        BaseAddress = new Uri($"{(certificate is null ? "http" : "https")}://{(certificate is null ? "127.0.0.1" : "localhost")}:{port}");
        _acceptLoop = AcceptAsync();
    }

    public Uri BaseAddress { get; }

    public IReadOnlyList<ReceivedRequest> Requests
    {
        get
        {
            lock (_gate)
            {
                return [.. _requests];
            }
        }
    }

    /// <summary>Answers the same way every time.</summary>
    public static ScriptedServer Always(ServerAction action, X509Certificate2? certificate = null) => new((_, _) => action, certificate);

    /// <summary>Answers with the given actions in turn, repeating the last one.</summary>
    public static ScriptedServer Sequence(params ServerAction[] actions) => new((_, n) => actions[Math.Min(n, actions.Length - 1)]);

    private async Task AcceptAsync()
    {
        var connections = new List<Task>();
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                connections.Add(ServeAsync(client));
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (SocketException)
        {
        }

        await Task.WhenAll(connections);
    }

    private async Task ServeAsync(TcpClient client)
    {
        using (client)
        {
            try
            {
                Stream stream = client.GetStream();
                if (_certificate is not null)
                {
                    var ssl = new SslStream(stream);
                    await ssl.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = _certificate }, _stop.Token);
                    stream = ssl;
                }

                await using (stream)
                {
                    var request = await ReadRequestAsync(stream, _stop.Token);
                    if (request is null)
                    {
                        return;
                    }

                    int index;
                    lock (_gate)
                    {
                        index = _requests.Count;
                        _requests.Add(request);
                    }

                    await ActAsync(_script(request, index), client, stream);
                }
            }
            catch (Exception e) when (e is IOException or OperationCanceledException or SocketException or System.Security.Authentication.AuthenticationException)
            {
                // the client went away or the test ended: nothing to answer
            }
        }
    }

    private async Task ActAsync(ServerAction action, TcpClient client, Stream stream)
    {
        switch (action)
        {
            case Respond respond:
                var head = new StringBuilder($"HTTP/1.1 {respond.StatusCode} {ReasonPhrase(respond.StatusCode)}\r\n");
                if (respond.ContentType is not null)
                {
                    head.Append($"Content-Type: {respond.ContentType}\r\n");
                }

                foreach (var (name, value) in respond.Headers)
                {
                    head.Append($"{name}: {value}\r\n");
                }

                head.Append($"Content-Length: {respond.Body.Length}\r\nConnection: close\r\n\r\n");
                await stream.WriteAsync(Encoding.ASCII.GetBytes(head.ToString()), _stop.Token);
                await stream.WriteAsync(respond.Body, _stop.Token);
                await stream.FlushAsync(_stop.Token);
                break;
            case Reset:
                client.Client.LingerState = new LingerOption(true, 0);
                client.Client.Close();
                break;
            case Hang:
                await Task.Delay(Timeout.Infinite, _stop.Token);
                break;
            case Truncated truncated:
                var header = $"HTTP/1.1 {truncated.StatusCode} {ReasonPhrase(truncated.StatusCode)}\r\nContent-Type: application/json\r\nContent-Length: {truncated.DeclaredLength}\r\nConnection: close\r\n\r\n";
                await stream.WriteAsync(Encoding.ASCII.GetBytes(header), _stop.Token);
                await stream.WriteAsync(truncated.Body, _stop.Token);
                await stream.FlushAsync(_stop.Token);
                client.Client.LingerState = new LingerOption(true, 0);
                client.Client.Close();
                break;
            default:
                throw new InvalidOperationException($"unknown action {action}");
        }
    }

    private static async Task<ReceivedRequest?> ReadRequestAsync(Stream stream, CancellationToken cancellationToken)
    {
        var buffer = new List<byte>(4096);
        var one = new byte[1];
        // headers are small; byte-at-a-time keeps the body boundary exact
        while (buffer.Count < 64 * 1024)
        {
            if (await stream.ReadAsync(one, cancellationToken) == 0)
            {
                return null;
            }

            buffer.Add(one[0]);
            if (buffer.Count >= 4 && buffer[^1] == '\n' && buffer[^2] == '\r' && buffer[^3] == '\n' && buffer[^4] == '\r')
            {
                break;
            }
        }

        var lines = Encoding.ASCII.GetString([.. buffer]).Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        var requestLine = lines[0].Split(' ');
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var line in lines.Skip(1))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            var name = line[..colon].Trim();
            var value = line[(colon + 1)..].Trim();
            headers[name] = headers.TryGetValue(name, out var previous) ? previous + ", " + value : value;
        }

        var body = Array.Empty<byte>();
        if (headers.TryGetValue("Content-Length", out var length) && int.Parse(length, System.Globalization.CultureInfo.InvariantCulture) is var n and > 0)
        {
            body = new byte[n];
            await stream.ReadExactlyAsync(body, cancellationToken);
        }

        return new ReceivedRequest(requestLine[0], requestLine[1], headers, body);
    }

    private static string ReasonPhrase(int status) => status switch
    {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        410 => "Gone",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    };

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _acceptLoop;
        _stop.Dispose();
    }
}
