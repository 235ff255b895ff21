using System.Text.Json;
using Latch.Azure.Tests.Infrastructure;

namespace Latch.Azure.Tests;

public sealed class RunCommandClientTests
{
    private static readonly CancellationToken Ct = TestContext.Current.CancellationToken;

    private static string Output(string code, string message) =>
        $$"""{"value":[{"code":"{{code}}","level":"Info","displayStatus":"Provisioning succeeded","message":{{JsonSerializer.Serialize(message)}}}]}""";

    [Fact]
    public async Task Runs_a_script_and_follows_the_async_operation_to_stdout_and_stderr()
    {
        var polls = 0;
        await using var server = new ScriptedServer((r, _) =>
        {
            var host = r.Header("Host");
            if (r.Method == "POST")
            {
                return ServerAction.Json(202, "", ("Azure-AsyncOperation", $"http://{host}/providers/Microsoft.Compute/locations/westeurope/operations/op1?api-version=2024-07-01"), ("Retry-After", "0"));
            }

            return Interlocked.Increment(ref polls) < 3
                ? ServerAction.Json(200, """{"status":"InProgress","name":"op1"}""", ("Retry-After", "0"))
                : ServerAction.Json(200, "{\"status\":\"Succeeded\",\"name\":\"op1\",\"properties\":{\"output\":" + Output("ProvisioningState/succeeded", "Enable succeeded: \n[stdout]\nhello world\nsecond line\n\n[stderr]\nwarning: x\n") + "}}");
        });
        using var client = new RunCommandClient(ArmClientTests.Options(server.BaseAddress), ArmClientTests.Token);

        var result = await client.RunShellScriptAsync(ArmClientTests.VmId, ["echo hello world", "echo second line"], new Dictionary<string, string> { ["USER"] = "alice" }, TimeSpan.FromMinutes(1), Ct);

        Assert.True(result.Succeeded);
        Assert.Equal(0, result.ExitCode);
        Assert.Equal("hello world\nsecond line\n", result.Stdout);
        Assert.Equal("warning: x\n", result.Stderr);
        var post = server.Requests[0];
        Assert.Equal($"{ArmClientTests.VmId}/runCommand?api-version=2024-07-01", post.Target);
        using var body = JsonDocument.Parse(post.Body);
        Assert.Equal("RunShellScript", body.RootElement.GetProperty("commandId").GetString());
        Assert.Equal(["echo hello world", "echo second line"], body.RootElement.GetProperty("script").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal("USER", body.RootElement.GetProperty("parameters")[0].GetProperty("name").GetString());
        Assert.Equal(4, server.Requests.Count);
    }

    [Fact]
    public async Task Follows_location_when_there_is_no_async_operation_header()
    {
        await using var server = new ScriptedServer((r, n) => r.Method == "POST"
            ? ServerAction.Status(202, ("Location", $"http://{r.Header("Host")}/providers/Microsoft.Compute/locations/westeurope/operations/op2?monitor=true"))
            : n < 3
                ? ServerAction.Status(202, ("Retry-After", "0"))
                : ServerAction.Json(200, Output("ProvisioningState/succeeded", "Enable succeeded: \n[stdout]\nok\n\n[stderr]\n")));
        using var client = new RunCommandClient(ArmClientTests.Options(server.BaseAddress), ArmClientTests.Token);

        var result = await client.RunShellScriptAsync(ArmClientTests.VmId, ["true"], null, TimeSpan.FromMinutes(1), Ct);

        Assert.Equal("ok\n", result.Stdout);
        Assert.Equal("", result.Stderr);
        Assert.Equal(4, server.Requests.Count);
    }

    [Fact]
    public async Task A_script_that_exits_non_zero_is_a_failed_result_with_its_exit_code()
    {
        await using var server = ScriptedServer.Always(ServerAction.Json(200, Output("ProvisioningState/failed/1", "Enable failed: failed to execute command: command terminated with exit status=3\n[stdout]\n\n[stderr]\nno such user\n")));
        using var client = new RunCommandClient(ArmClientTests.Options(server.BaseAddress), ArmClientTests.Token);

        var result = await client.RunShellScriptAsync(ArmClientTests.VmId, ["exit 3"], null, TimeSpan.FromMinutes(1), Ct);

        Assert.False(result.Succeeded);
        Assert.Equal(3, result.ExitCode);
        Assert.Equal("", result.Stdout);
        Assert.Equal("no such user\n", result.Stderr);
    }

    [Fact]
    public async Task Missing_run_command_permission_suggests_virtual_machine_contributor()
    {
        await using var server = ScriptedServer.Always(ServerAction.Json(403, """{"error":{"code":"AuthorizationFailed","message":"The client does not have authorization to perform action 'Microsoft.Compute/virtualMachines/runCommand/action'."}}"""));
        using var client = new RunCommandClient(ArmClientTests.Options(server.BaseAddress), ArmClientTests.Token);

        var error = await Assert.ThrowsAsync<AzureRequestException>(() => client.RunShellScriptAsync(ArmClientTests.VmId, ["id"], null, TimeSpan.FromMinutes(1), Ct));

        Assert.Equal("AuthorizationFailed", error.ErrorCode);
        Assert.Contains("Virtual Machine Contributor", error.Message, StringComparison.Ordinal);
        Assert.Single(server.Requests);
    }

    [Fact]
    public async Task A_failed_operation_reports_arms_error()
    {
        await using var server = new ScriptedServer((r, _) => r.Method == "POST"
            ? ServerAction.Status(202, ("Azure-AsyncOperation", $"http://{r.Header("Host")}/operations/op3"))
            : ServerAction.Json(200, """{"status":"Failed","error":{"code":"VMAgentStatusCommunicationError","message":"VM has reported a failure when processing extension 'RunCommandLinux'."}}"""));
        using var client = new RunCommandClient(ArmClientTests.Options(server.BaseAddress), ArmClientTests.Token);

        var error = await Assert.ThrowsAsync<AzureRequestException>(() => client.RunShellScriptAsync(ArmClientTests.VmId, ["id"], null, TimeSpan.FromMinutes(1), Ct));

        Assert.Equal("VMAgentStatusCommunicationError", error.ErrorCode);
        Assert.Contains("RunCommandLinux", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_command_that_never_finishes_ends_at_the_timeout_with_a_clear_error()
    {
        await using var server = new ScriptedServer((r, _) => r.Method == "POST"
            ? ServerAction.Status(202, ("Azure-AsyncOperation", $"http://{r.Header("Host")}/operations/op4"))
            : ServerAction.Json(200, """{"status":"InProgress"}"""));
        using var client = new RunCommandClient(ArmClientTests.Options(server.BaseAddress), ArmClientTests.Token);

        // the timeout leaves a loaded machine time for the POST and at least one poll
        var error = await Assert.ThrowsAsync<AzureRequestException>(() => client.RunShellScriptAsync(ArmClientTests.VmId, ["sleep 999"], null, TimeSpan.FromMilliseconds(1500), Ct));

        Assert.Contains("did not finish within", error.Message, StringComparison.Ordinal);
        Assert.InRange(server.Requests.Count, 2, 1000);
    }

    [Fact]
    public async Task A_polling_url_on_another_host_is_refused_before_any_token_goes_there()
    {
        await using var server = ScriptedServer.Always(ServerAction.Status(202, ("Azure-AsyncOperation", "https://elsewhere.example/operations/x")));
        using var client = new RunCommandClient(ArmClientTests.Options(server.BaseAddress), ArmClientTests.Token);

        var error = await Assert.ThrowsAsync<AzureRequestException>(() => client.RunShellScriptAsync(ArmClientTests.VmId, ["id"], null, TimeSpan.FromMinutes(1), Ct));

        Assert.Contains("elsewhere.example", error.Message, StringComparison.Ordinal);
        Assert.Single(server.Requests);
    }

    [Fact]
    public async Task A_post_that_could_not_connect_is_retried_because_it_never_left_this_machine()
    {
        // a port nobody listens on: every attempt is refused before a byte of the request is sent
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        using var client = new RunCommandClient(ArmClientTests.Options(new Uri($"http://127.0.0.1:{port}")), ArmClientTests.Token);

        var error = await Assert.ThrowsAsync<AzureRequestException>(() => client.RunShellScriptAsync(ArmClientTests.VmId, ["id"], null, TimeSpan.FromMinutes(1), Ct));

        Assert.Equal(6, error.Attempts);
        Assert.Contains("all 6 attempts were used", error.Message, StringComparison.Ordinal);
        Assert.Contains("refused", error.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task A_post_whose_token_fetch_timed_out_is_retried_because_nothing_was_sent()
    {
        await using var server = ScriptedServer.Always(ServerAction.Json(200, Output("ProvisioningState/succeeded", "Enable succeeded: \n[stdout]\nonce\n\n[stderr]\n")));
        var tokenCalls = 0;
        using var client = new RunCommandClient(
            new ArmClientOptions { BaseAddress = server.BaseAddress, PerCallTimeout = TimeSpan.FromSeconds(0.3), Retry = TestOptions.FastRetry(), PollInterval = TimeSpan.FromMilliseconds(10) },
            async ct =>
            {
                // the first token request hangs past the attempt's deadline
                if (Interlocked.Increment(ref tokenCalls) == 1)
                {
                    await Task.Delay(Timeout.Infinite, ct);
                }

                return await ArmClientTests.Token(ct);
            });

        var result = await client.RunShellScriptAsync(ArmClientTests.VmId, ["echo once"], null, TimeSpan.FromMinutes(1), Ct);

        Assert.Equal("once\n", result.Stdout);
        Assert.Equal(2, tokenCalls);
        Assert.Single(server.Requests);
    }

    [Fact]
    public async Task A_post_reset_after_it_was_sent_is_not_retried()
    {
        await using var server = ScriptedServer.Always(new Reset());
        using var client = new RunCommandClient(ArmClientTests.Options(server.BaseAddress), ArmClientTests.Token);

        var error = await Assert.ThrowsAsync<AzureRequestException>(() => client.RunShellScriptAsync(ArmClientTests.VmId, ["id"], null, TimeSpan.FromMinutes(1), Ct));

        Assert.Equal(1, error.Attempts);
        Assert.Contains("not sent again", error.Message, StringComparison.Ordinal);
        Assert.Single(server.Requests);
    }

    [Fact]
    public async Task Polling_after_a_reset_is_retried()
    {
        var polls = 0;
        await using var server = new ScriptedServer((r, _) => r.Method == "POST"
            ? ServerAction.Status(202, ("Azure-AsyncOperation", $"http://{r.Header("Host")}/operations/op5"), ("Retry-After", "0"))
            : Interlocked.Increment(ref polls) == 1
                ? new Reset()
                : ServerAction.Json(200, "{\"status\":\"Succeeded\",\"properties\":{\"output\":" + Output("ProvisioningState/succeeded", "Enable succeeded: \n[stdout]\nok\n\n[stderr]\n") + "}}"));
        using var client = new RunCommandClient(ArmClientTests.Options(server.BaseAddress), ArmClientTests.Token);

        var result = await client.RunShellScriptAsync(ArmClientTests.VmId, ["true"], null, TimeSpan.FromMinutes(1), Ct);

        Assert.Equal("ok\n", result.Stdout);
        Assert.Equal(2, polls);
    }

    [Theory]
    [InlineData("Enable succeeded: \n[stdout]\nabc\n\n[stderr]\n", "abc\n", "")]
    [InlineData("Enable succeeded: \n[stdout]\n\n[stderr]\nerr\n", "", "err\n")]
    [InlineData("[stdout]\nonly out", "only out", "")]
    [InlineData("no markers at all", "no markers at all", "")]
    public void Splits_the_run_command_message(string message, string stdout, string stderr) =>
        Assert.Equal((stdout, stderr), RunCommandClient.SplitOutput(message));
}
