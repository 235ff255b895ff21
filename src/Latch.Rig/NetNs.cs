using System.Net;
using System.Net.Sockets;
using Latch.Rig.Interop;

namespace Latch.Rig;

/// <summary>
/// Network namespaces by name (/run/netns/NAME, as `ip netns` makes them). The test process stays in the
/// root namespace; it reaches addresses inside a namespace with sockets created there: a short-lived thread
/// enters the namespace, opens the socket and ends, and the socket keeps its namespace for its whole life.
/// </summary>
internal static class NetNs
{
    public static string PathOf(string name) => Path.Combine("/run/netns", name);

    public static bool Exists(string name) => File.Exists(PathOf(name));

    public static async Task<IReadOnlyList<string>> ListAsync(CancellationToken cancellationToken = default)
    {
        var result = await Command.CheckAsync(["ip", "netns", "list"], cancellationToken: cancellationToken);
        return [.. result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ')[0])];
    }

    /// <summary>Pids of the processes whose network namespace is <paramref name="name"/>.</summary>
    public static async Task<IReadOnlyList<int>> PidsAsync(string name, CancellationToken cancellationToken = default)
    {
        var result = await Command.RunAsync(["ip", "netns", "pids", name], cancellationToken: cancellationToken);
        return [.. result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(p => int.Parse(p, System.Globalization.CultureInfo.InvariantCulture))];
    }

    /// <summary>SIGKILLs every process left in the namespace (all of them were started by the rig), then deletes it.</summary>
    public static async Task DeleteAsync(string name, CancellationToken cancellationToken = default)
    {
        if (!Exists(name))
        {
            return;
        }

        for (var attempt = 0; attempt < 50; attempt++)
        {
            var pids = await PidsAsync(name, cancellationToken);
            if (pids.Count == 0)
            {
                break;
            }

            foreach (var pid in pids)
            {
                _ = Libc.Kill(pid, Libc.SIGKILL);
            }

            await Task.Delay(100, cancellationToken);
        }

        var deleted = await Command.RunAsync(["ip", "netns", "del", name], cancellationToken: cancellationToken);
        if (!deleted.Succeeded && Exists(name))
        {
            throw new RigException($"'ip netns del {name}' failed: {deleted.Stderr.Trim()}; delete it by hand once no process uses it");
        }
    }

    /// <summary>A socket that lives in namespace <paramref name="name"/>.</summary>
    public static Socket CreateSocket(string name, AddressFamily family, SocketType type, ProtocolType protocol)
    {
        Socket? socket = null;
        Exception? error = null;
        var thread = new Thread(() =>
        {
            try
            {
                using var ns = File.OpenHandle(PathOf(name));
                if (Libc.Setns(ns, Libc.CLONE_NEWNET) != 0)
                {
                    throw new RigException($"setns into network namespace {name} failed: {Libc.LastError()}");
                }

                socket = new Socket(family, type, protocol);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or RigException or SocketException)
            {
                error = e;
            }
        })
        {
            IsBackground = true,
            Name = "netns " + name,
        };
        thread.Start();
        thread.Join();
        return socket ?? throw new RigException($"cannot open a socket in network namespace {name}: {error?.Message}", error);
    }

    public static async Task<Socket> ConnectAsync(string name, IPEndPoint endPoint, CancellationToken cancellationToken = default)
    {
        var socket = CreateSocket(name, endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(endPoint, cancellationToken);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>An HttpClient whose connections start inside namespace <paramref name="name"/> (IP literals only).</summary>
    public static HttpClient CreateHttpClient(string name, TimeSpan? timeout = null) =>
        new(CreateHandler(name)) { Timeout = timeout ?? TimeSpan.FromSeconds(30) };

    /// <summary>
    /// A handler whose connections start inside namespace <paramref name="name"/> (IP literals only). With
    /// <paramref name="caCertificatePath"/>, HTTPS servers must chain to that CA alone (the emulator's), not the system roots.
    /// </summary>
    public static SocketsHttpHandler CreateHandler(string name, string? caCertificatePath = null)
    {
        var handler = new SocketsHttpHandler
        {
            UseProxy = false,
            ConnectCallback = async (context, cancellationToken) =>
            {
                var address = IPAddress.Parse(context.DnsEndPoint.Host);
                var socket = await ConnectAsync(name, new IPEndPoint(address, context.DnsEndPoint.Port), cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            },
        };
        if (caCertificatePath is not null)
        {
            handler.SslOptions = new System.Net.Security.SslClientAuthenticationOptions
            {
                CertificateChainPolicy = new System.Security.Cryptography.X509Certificates.X509ChainPolicy
                {
                    TrustMode = System.Security.Cryptography.X509Certificates.X509ChainTrustMode.CustomRootTrust,
                    CustomTrustStore = { System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPem(File.ReadAllText(caCertificatePath)) },
                    RevocationMode = System.Security.Cryptography.X509Certificates.X509RevocationMode.NoCheck,
                },
            };
        }

        return handler;
    }
}
