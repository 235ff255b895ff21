using Latch.Azure.Tests.Infrastructure;
using Latch.Emulator.State;

namespace Latch.Azure.Tests;

/// <summary>
/// RunCommandClient against the emulator's ARM: scripts really run (the scenario VM has no Exec prefix, so on this
/// host in a fresh temp directory), and a POST that may have reached ARM is never sent twice.
/// </summary>
public sealed class RunCommandEmulatorTests : IDisposable
{
    private static readonly CancellationToken Ct = TestContext.Current.CancellationToken;
    private static readonly string VmId = AzureEmulator.VmResourceId("rg-web", "vm-web");
    private static readonly string RunCommandPath = VmId + "/runCommand";
    private readonly DirectoryInfo _scratch = Directory.CreateTempSubdirectory("latch-run-command-test-");

    public void Dispose() => _scratch.Delete(recursive: true);

    private string Marker => Path.Combine(_scratch.FullName, "ran.txt");

    /// <summary>Appends a line to the marker file, so a second run would show as a second line.</summary>
    private IReadOnlyDictionary<string, string> MarkerParameter => new Dictionary<string, string> { ["MARKER"] = Marker };

    private static readonly string[] AppendToMarker = ["echo ran >> \"$MARKER\""];

    private static RunCommandClient Client(AzureEmulator emulator, ClientSecretCredential credential, int maxAttempts = 6, double perCallSeconds = 30) =>
        new(emulator.Arm(maxAttempts, perCallSeconds), ct => credential.GetTokenAsync(ArmClient.Resource, ct));

    private static IReadOnlyList<RequestRecord> Posts(AzureEmulator emulator) =>
        [.. emulator.Requests("arm").Where(r => r.Method == "POST" && r.Path.StartsWith(RunCommandPath, StringComparison.Ordinal))];

    private string[] MarkerLines() => File.Exists(Marker) ? File.ReadAllLines(Marker) : [];

    /// <summary>Waits (bounded) until the marker file has a line: the script runs after the POST was answered.</summary>
    private async Task ScriptRanAsync()
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        deadline.CancelAfter(TimeSpan.FromSeconds(30));
        while (MarkerLines().Length == 0)
        {
            await Task.Delay(20, deadline.Token);
        }
    }

    [Fact]
    public async Task Runs_a_script_and_reports_its_stdout_stderr_exit_status_and_effects()
    {
        await using var emulator = await AzureEmulator.StartAsync();
        using var credential = emulator.Operator();
        using var client = Client(emulator, credential);

        var result = await client.RunShellScriptAsync(
            VmId,
            ["echo \"hello from $PWD as $1\"", "echo oops >&2", "printf 'ran\\n' > \"$MARKER\""],
            MarkerParameter,
            TimeSpan.FromMinutes(1),
            Ct);

        Assert.True(result.Succeeded, result.Message);
        Assert.Equal(0, result.ExitCode);
        Assert.Equal("ProvisioningState/succeeded", result.Code);
        Assert.StartsWith("hello from /", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("/latch-run-command-", result.Stdout, StringComparison.Ordinal);
        Assert.EndsWith($" as {Marker}\n", result.Stdout, StringComparison.Ordinal);
        Assert.Equal("oops\n", result.Stderr);
        Assert.Equal(["ran"], MarkerLines());
        Assert.Equal(202, Assert.Single(Posts(emulator)).Status);
    }

    [Fact]
    public async Task A_script_that_exits_non_zero_is_a_failed_result_with_its_exit_status_and_output()
    {
        await using var emulator = await AzureEmulator.StartAsync();
        using var credential = emulator.Operator();
        using var client = Client(emulator, credential);

        var result = await client.RunShellScriptAsync(VmId, ["echo partial", "echo 'no such user' >&2", "exit 3"], null, TimeSpan.FromMinutes(1), Ct);

        Assert.False(result.Succeeded);
        Assert.Equal(3, result.ExitCode);
        Assert.Equal("partial\n", result.Stdout);
        Assert.Equal("no such user\n", result.Stderr);
        Assert.Contains("exit status=3", result.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task With_run_command_latency_the_client_polls_no_sooner_than_retry_after()
    {
        // 1.2 s of latency: ARM answers Retry-After: 2, and the script is done by the first poll
        await using var emulator = await AzureEmulator.StartAsync(TimeSpan.FromMilliseconds(1200));
        using var credential = emulator.Operator();
        using var client = Client(emulator, credential);

        var result = await client.RunShellScriptAsync(VmId, AppendToMarker, MarkerParameter, TimeSpan.FromMinutes(1), Ct);

        Assert.True(result.Succeeded, result.Message);
        Assert.Equal(["ran"], MarkerLines());
        var requests = (await emulator.LoggedAsync("arm", r => r.Count(x => x.Path.StartsWith("/subscriptions", StringComparison.Ordinal)) >= 2))
            .Where(r => r.Path.StartsWith("/subscriptions", StringComparison.Ordinal)).ToList();
        Assert.Equal("POST", requests[0].Method);
        Assert.True(requests.Count >= 2, "the client never polled");
        // the emulator stamps a request after answering it: each gap bounds the client's wait from below
        for (var i = 1; i < requests.Count; i++)
        {
            Assert.Equal("GET", requests[i].Method);
            var gap = requests[i].Time - requests[i - 1].Time;
            Assert.True(gap >= TimeSpan.FromMilliseconds(1950), $"poll {i} came {gap.TotalMilliseconds} ms after the previous request; Retry-After was 2 s");
        }
    }

    [Fact]
    public async Task A_second_command_while_one_runs_is_a_clear_conflict_error()
    {
        await using var emulator = await AzureEmulator.StartAsync();
        using var credential = emulator.Operator();
        using var client = Client(emulator, credential);
        using var stopFirst = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var first = client.RunShellScriptAsync(VmId, ["sleep 60"], null, TimeSpan.FromMinutes(2), stopFirst.Token);
        using (var deadline = CancellationTokenSource.CreateLinkedTokenSource(Ct))
        {
            deadline.CancelAfter(TimeSpan.FromSeconds(30));
            while (Posts(emulator).Count == 0)
            {
                await Task.Delay(10, deadline.Token);
            }
        }

        var error = await Assert.ThrowsAsync<AzureRequestException>(() => client.RunShellScriptAsync(VmId, AppendToMarker, MarkerParameter, TimeSpan.FromMinutes(1), Ct));

        Assert.Equal(409, error.Status);
        Assert.Equal("Conflict", error.ErrorCode);
        Assert.Contains("ARM POST runCommand failed: HTTP 409 Conflict", error.Message, StringComparison.Ordinal);
        Assert.Contains("Another run command is still running on this VM", error.Message, StringComparison.Ordinal);
        Assert.Empty(MarkerLines());
        await emulator.LoggedAsync("arm", _ => Posts(emulator).Count >= 2);
        Assert.Equal([202, 409], Posts(emulator).Select(r => r.Status));
        await stopFirst.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => first);
    }

    [Fact]
    public async Task A_command_that_outlives_the_timeout_is_a_clear_error()
    {
        await using var emulator = await AzureEmulator.StartAsync();
        using var credential = emulator.Operator();
        using var client = Client(emulator, credential);

        var error = await Assert.ThrowsAsync<AzureRequestException>(() => client.RunShellScriptAsync(VmId, ["sleep 60"], null, TimeSpan.FromSeconds(1.5), Ct));

        Assert.Contains($"ARM run command on {VmId} did not finish within 1.5 s", error.Message, StringComparison.Ordinal);
        Assert.Contains("may still be running", error.Message, StringComparison.Ordinal);
        Assert.Null(error.Status);
    }

    [Theory]
    [InlineData("status=503")]
    [InlineData("throttle=0")]
    public async Task A_post_arm_refused_with_429_or_503_is_sent_again_and_runs_once(string kind)
    {
        await using var emulator = await AzureEmulator.StartAsync();
        using var credential = emulator.Operator();
        using var client = Client(emulator, credential);
        emulator.Fault($"arm:{kind},path={RunCommandPath},count=1");

        var result = await client.RunShellScriptAsync(VmId, AppendToMarker, MarkerParameter, TimeSpan.FromMinutes(1), Ct);

        Assert.True(result.Succeeded, result.Message);
        Assert.Equal(["ran"], MarkerLines());
        await emulator.LoggedAsync("arm", _ => Posts(emulator).Count >= 2);
        Assert.Equal(2, Posts(emulator).Count);
    }

    [Theory]
    [InlineData("status=500", "ARM may have accepted the request, so it was not sent again")]
    [InlineData("status=502", "ARM may have accepted the request, so it was not sent again")]
    [InlineData("truncate", "failed after the request was sent")]
    [InlineData("gone", "ARM POST runCommand failed: HTTP 410 Gone")]
    [InlineData("malformed", "sent neither Azure-AsyncOperation nor Location")]
    public async Task A_post_answered_with_anything_but_429_or_503_surfaces_and_is_not_sent_again(string kind, string message)
    {
        await using var emulator = await AzureEmulator.StartAsync();
        using var credential = emulator.Operator();
        using var client = Client(emulator, credential);
        var fault = emulator.Fault($"arm:{kind},path={RunCommandPath},count=1");

        var error = await Assert.ThrowsAsync<AzureRequestException>(() => client.RunShellScriptAsync(VmId, AppendToMarker, MarkerParameter, TimeSpan.FromMinutes(1), Ct));

        Assert.Contains(message, error.Message, StringComparison.Ordinal);
        await emulator.FaultWasHitAsync(fault);
        Assert.Single(Posts(emulator));
        Assert.True(MarkerLines().Length <= 1);
    }

    [Fact]
    public async Task A_post_whose_answer_is_lost_after_arm_acted_runs_the_script_exactly_once()
    {
        await using var emulator = await AzureEmulator.StartAsync();
        using var credential = emulator.Operator();
        using var client = Client(emulator, credential);
        // ARM takes the request and starts the script, then the connection drops before the 202 leaves
        var fault = emulator.Fault($"arm:lost,path={RunCommandPath},count=1");

        var error = await Assert.ThrowsAsync<AzureRequestException>(() => client.RunShellScriptAsync(VmId, AppendToMarker, MarkerParameter, TimeSpan.FromMinutes(1), Ct));

        Assert.Null(error.Status);
        Assert.Equal(1, error.Attempts);
        Assert.Contains($"ARM POST runCommand ({emulator.Host.Arm}) failed after the request was sent", error.Message, StringComparison.Ordinal);
        Assert.Contains("not sent again; check whether it took effect", error.Message, StringComparison.Ordinal);
        await ScriptRanAsync();
        await emulator.FaultWasHitAsync(fault);
        Assert.Single(Posts(emulator));
        Assert.Equal(["ran"], MarkerLines());
    }

    [Fact]
    public async Task A_post_reset_by_arm_runs_the_script_at_most_once()
    {
        await using var emulator = await AzureEmulator.StartAsync();
        using var credential = emulator.Operator();
        using var client = Client(emulator, credential);
        // the emulator resets before its endpoint sees the request, but the client cannot know that
        var fault = emulator.Fault($"arm:reset,path={RunCommandPath},count=1");

        var error = await Assert.ThrowsAsync<AzureRequestException>(() => client.RunShellScriptAsync(VmId, AppendToMarker, MarkerParameter, TimeSpan.FromMinutes(1), Ct));

        Assert.Contains("not sent again", error.Message, StringComparison.Ordinal);
        await emulator.FaultWasHitAsync(fault);
        Assert.Single(Posts(emulator));
        Assert.True(MarkerLines().Length <= 1);
    }

    [Fact]
    public async Task A_post_that_times_out_is_not_sent_again()
    {
        await using var emulator = await AzureEmulator.StartAsync();
        using var credential = emulator.Operator();
        using var client = Client(emulator, credential, perCallSeconds: 3);
        await credential.GetTokenAsync(ArmClient.Resource, Ct);
        var fault = emulator.Fault($"arm:timeout=20000,path={RunCommandPath},count=1");

        var error = await Assert.ThrowsAsync<AzureRequestException>(() => client.RunShellScriptAsync(VmId, AppendToMarker, MarkerParameter, TimeSpan.FromMinutes(1), Ct));

        Assert.Contains("no complete response within 3.0 s", error.Message, StringComparison.Ordinal);
        Assert.Contains("not sent again", error.Message, StringComparison.Ordinal);
        await emulator.FaultWasHitAsync(fault);
        Assert.Single(Posts(emulator));
    }

    [Theory]
    [InlineData("reset")]
    [InlineData("status=500")]
    [InlineData("truncate")]
    [InlineData("malformed")]
    public async Task Polling_recovers_from_faults_because_reading_the_status_is_safe_to_repeat(string kind)
    {
        await using var emulator = await AzureEmulator.StartAsync();
        using var credential = emulator.Operator();
        using var client = Client(emulator, credential);
        var fault = emulator.Fault($"arm:{kind},path=/subscriptions/{AzureEmulator.Subscription}/providers/Microsoft.Compute/locations,count=2");

        var result = await client.RunShellScriptAsync(VmId, AppendToMarker, MarkerParameter, TimeSpan.FromMinutes(1), Ct);

        Assert.True(result.Succeeded, result.Message);
        Assert.Equal(["ran"], MarkerLines());
        await emulator.FaultWasHitAsync(fault, times: 2);
        Assert.Single(Posts(emulator));
    }
}
