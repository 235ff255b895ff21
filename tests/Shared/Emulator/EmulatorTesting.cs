using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Latch.Emulator.Faults;
using Latch.Emulator.State;

namespace Latch.Testing;

/// <summary>
/// What the emulator's test fixtures (Latch.Emulator.Tests TestEmulator, Latch.Azure.Tests AzureEmulator) share:
/// trusting only the CA file the emulator wrote, bounded waiting for what another thread records, and injected
/// faults with the requests they hit. Included by the test projects that reference the emulator.
/// </summary>
internal static class EmulatorTesting
{
    /// <summary>A socket handler (no proxy) that trusts only the CA certificate in <paramref name="caCertificatePath"/>.</summary>
    public static SocketsHttpHandler TrustingHandler(string caCertificatePath) => new()
    {
        UseProxy = false,
        SslOptions = new SslClientAuthenticationOptions
        {
            CertificateChainPolicy = new X509ChainPolicy
            {
                TrustMode = X509ChainTrustMode.CustomRootTrust,
                CustomTrustStore = { X509Certificate2.CreateFromPem(File.ReadAllText(caCertificatePath)) },
                RevocationMode = X509RevocationMode.NoCheck,
            },
        },
    };

    /// <summary>Waits (polling, bounded: 30 s by default) for a condition another thread makes true; a hang fails the test.</summary>
    public static async Task EventuallyAsync(Func<bool> condition, TimeSpan? deadline = null)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(deadline ?? TimeSpan.FromSeconds(30));
        while (!condition())
        {
            await Task.Delay(10, timeout.Token);
        }
    }

    /// <summary>
    /// Injects a fault as <c>POST /faults</c> does. Returns its text without the count: each hit is logged with the
    /// count left at that moment, so the request log matches this as a prefix.
    /// </summary>
    public static string AddFault(EmulatorState state, string spec) => (state.Faults.Add(FaultRule.Parse(spec)) with { Count = null }).ToString();

    /// <summary>The requests one fault (from <see cref="AddFault"/>, or a spec as given) hit.</summary>
    public static IReadOnlyList<RequestRecord> HitBy(EmulatorState state, string fault) =>
        [.. state.Requests.Where(r => r.Fault is { } f && (f == fault || f.StartsWith(fault + ",count=", StringComparison.Ordinal)))];

    /// <summary>The emulator records a request once it has answered it: wait (bounded) until the fault shows up there.</summary>
    public static Task FaultWasHitAsync(EmulatorState state, string fault, int times = 1) =>
        EventuallyAsync(() => HitBy(state, fault).Count >= times);
}
