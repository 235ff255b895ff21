using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace Latch.Agent.Guard;

/// <summary>
/// The daemon's control socket (<c>/run/latch/latchd.sock</c>, in a 0700 root directory, socket 0600): one request
/// line (<c>status</c> or <c>refresh</c>), one JSON answer line. Only root can connect, so no further authentication.
/// </summary>
internal sealed class ControlSocket(string path, GuardService service, ILogger logger) : IDisposable
{
    private readonly Socket _listener = new(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var directory = Path.GetDirectoryName(path)!;
        Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        File.SetUnixFileMode(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        if (File.Exists(path))
        {
            File.Delete(path);
        }

        _listener.Bind(new UnixDomainSocketEndPoint(path));
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        _listener.Listen(8);
        GuardLog.Listening(logger, path);
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                var client = await _listener.AcceptAsync(cancellationToken).ConfigureAwait(false);
                _ = Task.Run(() => ServeAsync(client, cancellationToken), cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        finally
        {
            File.Delete(path);
        }
    }

    private async Task ServeAsync(Socket client, CancellationToken cancellationToken)
    {
        using (client)
        {
            try
            {
                var stream = new NetworkStream(client, ownsSocket: false);
                await using var _ = stream.ConfigureAwait(false);
                using var reader = new StreamReader(stream, Encoding.UTF8);
                var request = (await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false))?.Trim();
                var answer = request switch
                {
                    "status" => JsonSerializer.Serialize(service.Status, GuardStatusJsonContext.Default.GuardServiceStatus),
                    "refresh" => JsonSerializer.Serialize(await service.RefreshAsync(cancellationToken).ConfigureAwait(false), GuardStatusJsonContext.Default.RefreshAnswer),
                    _ => "{\"error\":\"unknown request; send 'status' or 'refresh'\"}",
                };
                await stream.WriteAsync(Encoding.UTF8.GetBytes(answer + "\n"), cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or SocketException or OperationCanceledException)
            {
                GuardLog.ControlProblem(logger, $"a client request failed: {e.Message}");
            }
        }
    }

    /// <summary>Sends one request to a running daemon; null when none listens at <paramref name="socketPath"/>.</summary>
    public static async Task<string?> RequestAsync(string socketPath, string request, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        if (!File.Exists(socketPath))
        {
            return null;
        }

        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), deadline.Token).ConfigureAwait(false);
        }
        catch (SocketException)
        {
            return null;
        }

        var stream = new NetworkStream(socket, ownsSocket: false);
        await using var _ = stream.ConfigureAwait(false);
        await stream.WriteAsync(Encoding.UTF8.GetBytes(request + "\n"), deadline.Token).ConfigureAwait(false);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return await reader.ReadLineAsync(deadline.Token).ConfigureAwait(false);
    }

    public void Dispose() => _listener.Dispose();
}
