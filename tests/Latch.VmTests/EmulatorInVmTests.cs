using System.Text.Json;
using Latch.Rig;

namespace Latch.VmTests;

public sealed class EmulatorInVmTests
{
    [Fact]
    public async Task Imds_answers_each_vm_with_its_own_metadata_and_refuses_requests_without_the_header()
    {
        RigRequires.All();
        var ct = TestContext.Current.CancellationToken;
        await using var host = await AzureHost.StartAsync(ct);
        var key = await SshKey.CreateAsync(Path.Combine(host.Directory, "keys"), "admin", ct);
        var vm1 = await host.AddVmAsync("vm1", new VmProfile { AdminUsername = "azureuser", PublicKeys = [key.PublicKey] }, ct);
        var vm2 = await host.AddVmAsync("vm2", new VmProfile { AdminUsername = "other" }, ct);
        await host.StartEmulatorAsync(cancellationToken: ct);

        foreach (var vm in new[] { vm1, vm2 })
        {
            var answer = await vm.RunAsync(
                "curl -sS --max-time 20 -H Metadata:true 'http://169.254.169.254/metadata/instance?api-version=2021-02-01'", cancellationToken: ct);
            Assert.True(answer.Succeeded, $"curl in {vm.Name}: {answer.Stderr}\nemulator:\n{host.Emulator!.Process.Log}");
            using var json = JsonDocument.Parse(answer.Stdout);
            var compute = json.RootElement.GetProperty("compute");
            Assert.Equal(vm.Name, compute.GetProperty("name").GetString());
            Assert.Equal(vm.VmId, compute.GetProperty("vmId").GetString());
            Assert.Equal(vm.Profile.AdminUsername, compute.GetProperty("osProfile").GetProperty("adminUsername").GetString());
            Assert.Equal(
                vm.Profile.PublicKeys,
                compute.GetProperty("publicKeys").EnumerateArray().Select(k => k.GetProperty("keyData").GetString()!.TrimEnd('\n')));
        }

        var withoutHeader = await vm1.RunAsync(
            "curl -sS --max-time 20 -o /dev/null -w '%{http_code}' 'http://169.254.169.254/metadata/instance?api-version=2021-02-01'", cancellationToken: ct);
        Assert.Equal("400", withoutHeader.Stdout);
    }

    /// <summary>What the emulator must have seen from waagent before its log says all there is to say about these paths.</summary>
    private static readonly (string Group, string Method, string Path)[] s_afterReady =
    [
        ("hostgaplugin", "GET", "/versions"),
        ("hostgaplugin", "GET", "/health"),
        ("hostgaplugin", "PUT", "/status"),
        ("wireserver", "POST", "/HealthService"),
    ];

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Real_waagent_reports_ready_and_talks_to_the_host_plugin_without_errors(bool fastTrack)
    {
        RigRequires.All();
        var ct = TestContext.Current.CancellationToken;
        await using var host = await AzureHost.StartAsync(ct);
        var vm = await host.AddVmAsync("vm1", cancellationToken: ct);
        var emulator = await host.StartEmulatorAsync(cancellationToken: ct);

        var agent = await Waagent.StartAsync(vm, new Dictionary<string, string> { ["Debug.EnableFastTrack"] = fastTrack ? "y" : "n" }, ct);
        try
        {
            var ready = await emulator.WaitForHealthStateAsync(vm.Name, "Ready", TimeSpan.FromSeconds(60), ct);
            Assert.Equal("Ready", EmulatorProcess.StateOf(ready));

            // the extension handler's first goal state, status upload and monitor heartbeats follow Ready within seconds
            (string Group, string Method, string Path)[] expected = fastTrack ? [.. s_afterReady, ("hostgaplugin", "GET", "/vmSettings")] : s_afterReady;
            var requests = await WaitForRequestsAsync(emulator, expected, TimeSpan.FromSeconds(90), ct);
            Assert.Equal(fastTrack, requests.Any(r => r.Path == "/vmSettings"));

            var observations = await emulator.GetHealthObservationsAsync(vm.Name, ct);
            Assert.NotEmpty(observations.EnumerateArray());
            Assert.All(observations.EnumerateArray(), o => Assert.True(o.GetProperty("isHealthy").GetBoolean(), o.GetRawText()));

            var log = await vm.ReadFileAsync(Waagent.LogPath, ct);
            var complaints = Waagent.ComplaintsAbout(log, ["HostGAPlugin", "HostPlugin", "vmSettings", "VmSettings", "HealthService", "Fast Track", "FastTrack", "32526"]);
            Assert.True(complaints.Count == 0, $"waagent complained:\n{string.Join('\n', complaints)}\n--- {Waagent.LogPath} ---\n{log}");
            // IMDS answered api-version 2018-02-01 with that version's compute schema (waagent warns about any other field)
            Assert.DoesNotContain("Unknown property", log, StringComparison.Ordinal);
            Assert.All(requests.Where(r => r.Group is "hostgaplugin" || r.Path.StartsWith("/HealthService", StringComparison.Ordinal)),
                r => Assert.True(r.Status is 200 or 201 or 304, $"{r.Group} {r.Method} {r.Path} answered {r.Status}"));
            if (fastTrack)
            {
                Assert.Contains("Fetched new vmSettings", log, StringComparison.Ordinal);
            }
        }
        catch (RigException e)
        {
            var log = await vm.TryReadFileAsync(Waagent.LogPath, ct);
            Assert.Fail($"{e.Message}\n--- {Waagent.LogPath} in {vm.Name} ---\n{log ?? "(none)"}\n--- waagent output ---\n{agent.Log}");
        }
        finally
        {
            await agent.StopAsync();
        }
    }

    private sealed record SeenRequest(string Group, string Method, string Path, int Status);

    /// <summary>Polls the emulator's request log until every expected (group, method, path) was answered; returns the log.</summary>
    private static async Task<IReadOnlyList<SeenRequest>> WaitForRequestsAsync(
        EmulatorProcess emulator, IReadOnlyList<(string Group, string Method, string Path)> expected, TimeSpan deadline, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(deadline);
        IReadOnlyList<SeenRequest> seen = [];
        try
        {
            while (true)
            {
                var json = await emulator.GetRequestsAsync(cancellationToken: timeout.Token);
                seen = [.. json.EnumerateArray().Select(r => new SeenRequest(
                    r.GetProperty("group").GetString()!, r.GetProperty("method").GetString()!,
                    r.GetProperty("path").GetString()!.Split('?')[0], r.GetProperty("status").GetInt32()))];
                if (expected.All(e => seen.Any(r => r.Group == e.Group && r.Method == e.Method && string.Equals(r.Path, e.Path, StringComparison.OrdinalIgnoreCase))))
                {
                    return seen;
                }

                await Task.Delay(500, timeout.Token);
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new RigException($"waagent did not make all of [{string.Join(", ", expected)}] within {deadline.TotalSeconds} s; seen:\n"
                + string.Join('\n', seen.Select(r => $"{r.Group} {r.Method} {r.Path} -> {r.Status}")));
        }
    }
}
