using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Latch.Emulator.Tests;

/// <summary>ARM's wire behaviour checked byte by byte over real HTTPS: LRO headers, polling, conflicts, error shapes.</summary>
public sealed class ArmHttpTests : IAsyncLifetime
{
    private const string Vm = "/subscriptions/00000000-0000-4000-8000-000000000001/resourceGroups/latch-rg/providers/Microsoft.Compute/virtualMachines/vm1";
    private const string ApiVersion = "api-version=2024-07-01";

    private readonly Scenario _scenario = new() { Vms = [new VmDefinition { Name = "vm1", PublicIpAddress = "203.0.113.7" }] };
    private readonly string _scratch = Directory.CreateTempSubdirectory("latch-arm-test-").FullName;
    private TokenIssuer _tokens = null!;
    private ArmState _state = null!;
    private TestServer _server = null!;
    private HttpClient _http = null!;

    public async ValueTask InitializeAsync()
    {
        _tokens = new TokenIssuer(TimeProvider.System, _scenario.TenantId);
        _state = new ArmState(_scenario, new ArmOptions { RunCommandLatency = TimeSpan.Zero, RunCommandTimeout = TimeSpan.FromSeconds(2) }, TimeProvider.System);
        _server = await TestServer.StartAsync(app => app.MapArm(_state, _tokens));
        _http = _server.CreateHttpClient();
        _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", _tokens.Issue("operator", "https://management.azure.com/", TimeSpan.FromHours(1)));
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        await _server.DisposeAsync();
        await _state.DisposeAsync();
        Directory.Delete(_scratch, recursive: true);
    }

    private static StringContent RunShellScript(params string[] script) => new(
        JsonSerializer.Serialize(new RunCommandInputJson { CommandId = "RunShellScript", Script = script }, ArmJsonContext.Default.RunCommandInputJson),
        Encoding.UTF8, "application/json");

    /// <summary>A script that waits (bounded) until the test creates its release file.</summary>
    private string[] BlockingScript(string release) => [$"for i in $(seq 1 1200); do [ -e '{release}' ] && break; sleep 0.05; done", "echo released"];

    private static async Task<JsonElement> JsonAsync(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken)).RootElement.Clone();

    private static async Task AssertArmErrorAsync(HttpResponseMessage response, HttpStatusCode status, string code)
    {
        Assert.Equal(status, response.StatusCode);
        var error = (await JsonAsync(response)).GetProperty("error");
        Assert.Equal(code, error.GetProperty("code").GetString());
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()));
        Assert.True(response.Headers.Contains("x-ms-request-id"));
        Assert.True(response.Headers.Contains("x-ms-correlation-request-id"));
    }

    private async Task<JsonElement> PollUntilDoneAsync(Uri asyncOperation)
    {
        for (var attempt = 0; attempt < 600; attempt++)
        {
            using var response = await _http.GetAsync(asyncOperation, TestContext.Current.CancellationToken);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var body = await JsonAsync(response);
            if (body.GetProperty("status").GetString() != "InProgress")
            {
                return body;
            }
            await Task.Delay(50, TestContext.Current.CancellationToken);
        }
        throw new TimeoutException("the run command did not finish within the test's bound");
    }

    [Fact]
    public async Task Run_command_answers_202_with_polling_headers_and_both_urls_track_the_operation()
    {
        var release = Path.Combine(_scratch, "release");
        using var accepted = await _http.PostAsync($"{Vm}/runCommand?{ApiVersion}", RunShellScript(BlockingScript(release)), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        var asyncOperation = Assert.Single(accepted.Headers.GetValues("Azure-AsyncOperation"));
        var location = accepted.Headers.Location!;
        Assert.Contains("/providers/Microsoft.Compute/locations/westeurope/operations/", asyncOperation, StringComparison.Ordinal);
        Assert.Contains("api-version=2024-07-01", asyncOperation, StringComparison.Ordinal);
        Assert.Contains("monitor=true", location.Query, StringComparison.Ordinal);
        Assert.NotNull(accepted.Headers.RetryAfter);

        using (var running = await _http.GetAsync(asyncOperation, TestContext.Current.CancellationToken))
        {
            var body = await JsonAsync(running);
            Assert.Equal("InProgress", body.GetProperty("status").GetString());
            Assert.True(body.TryGetProperty("startTime", out _));
        }
        using (var stillRunning = await _http.GetAsync(location, TestContext.Current.CancellationToken))
        {
            Assert.Equal(HttpStatusCode.Accepted, stillRunning.StatusCode);
        }

        await File.WriteAllTextAsync(release, "", TestContext.Current.CancellationToken);
        var done = await PollUntilDoneAsync(new Uri(asyncOperation));
        using var result = await _http.GetAsync(location, TestContext.Current.CancellationToken);

        Assert.Equal("Succeeded", done.GetProperty("status").GetString());
        Assert.True(done.TryGetProperty("endTime", out _));
        var status = done.GetProperty("properties").GetProperty("output").GetProperty("value")[0];
        Assert.Equal("ProvisioningState/succeeded", status.GetProperty("code").GetString());
        Assert.Equal("Provisioning succeeded", status.GetProperty("displayStatus").GetString());
        Assert.Equal("Info", status.GetProperty("level").GetString());
        Assert.Equal("Enable succeeded: \n[stdout]\nreleased\n\n[stderr]\n", status.GetProperty("message").GetString());
        Assert.Equal(HttpStatusCode.OK, result.StatusCode);
        Assert.Equal(status.GetRawText(), (await JsonAsync(result)).GetProperty("value")[0].GetRawText());
    }

    [Fact]
    public async Task A_second_run_command_while_one_runs_is_a_409_Conflict()
    {
        var release = Path.Combine(_scratch, "release-conflict");
        using var first = await _http.PostAsync($"{Vm}/runCommand?{ApiVersion}", RunShellScript(BlockingScript(release)), TestContext.Current.CancellationToken);
        using var second = await _http.PostAsync($"{Vm}/runCommand?{ApiVersion}", RunShellScript("echo second"), TestContext.Current.CancellationToken);

        await AssertArmErrorAsync(second, HttpStatusCode.Conflict, "Conflict");
        await File.WriteAllTextAsync(release, "", TestContext.Current.CancellationToken);
        await PollUntilDoneAsync(new Uri(first.Headers.GetValues("Azure-AsyncOperation").Single()));
        using var third = await _http.PostAsync($"{Vm}/runCommand?{ApiVersion}", RunShellScript("echo third"), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.Accepted, third.StatusCode);
    }

    [Fact]
    public async Task A_script_that_outlives_the_timeout_is_killed_with_its_children()
    {
        var pids = Path.Combine(_scratch, "pids");
        using var accepted = await _http.PostAsync($"{Vm}/runCommand?{ApiVersion}",
            RunShellScript("sleep 600 &", $"echo $$ $! > '{pids}'", "wait"), TestContext.Current.CancellationToken);

        var done = await PollUntilDoneAsync(new Uri(accepted.Headers.GetValues("Azure-AsyncOperation").Single()));

        var status = done.GetProperty("properties").GetProperty("output").GetProperty("value")[0];
        Assert.Equal("ProvisioningState/failed", status.GetProperty("code").GetString());
        Assert.Contains("timed out", status.GetProperty("message").GetString(), StringComparison.Ordinal);
        foreach (var pid in (await File.ReadAllTextAsync(pids, TestContext.Current.CancellationToken)).Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            Assert.False(Directory.Exists($"/proc/{pid}") && !File.ReadAllText($"/proc/{pid}/stat").Contains(") Z ", StringComparison.Ordinal), $"process {pid} survived the timeout");
        }
    }

    [Fact]
    public async Task Output_keeps_only_the_last_4096_bytes_of_each_stream()
    {
        using var accepted = await _http.PostAsync($"{Vm}/runCommand?{ApiVersion}",
            RunShellScript("head -c 10000 /dev/zero | tr '\\0' a", "printf END"), TestContext.Current.CancellationToken);

        var done = await PollUntilDoneAsync(new Uri(accepted.Headers.GetValues("Azure-AsyncOperation").Single()));

        var message = done.GetProperty("properties").GetProperty("output").GetProperty("value")[0].GetProperty("message").GetString()!;
        var stdout = message[message.IndexOf("[stdout]\n", StringComparison.Ordinal)..message.IndexOf("\n[stderr]", StringComparison.Ordinal)]["[stdout]\n".Length..];
        Assert.Equal(4096, stdout.Length);
        Assert.EndsWith("aaaEND", stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("RunPowerShellScript", HttpStatusCode.BadRequest, "OperationNotAllowed")]
    [InlineData("NoSuchCommand", HttpStatusCode.NotFound, "NotFound")]
    public async Task Unsupported_command_ids_are_rejected(string commandId, HttpStatusCode status, string code)
    {
        using var content = new StringContent($$"""{"commandId":"{{commandId}}","script":["echo x"]}""", Encoding.UTF8, "application/json");
        using var response = await _http.PostAsync($"{Vm}/runCommand?{ApiVersion}", content, TestContext.Current.CancellationToken);

        await AssertArmErrorAsync(response, status, code);
    }

    [Fact]
    public async Task Unknown_vm_resource_group_and_subscription_have_ARM_error_shapes()
    {
        using var vm = await _http.GetAsync($"{Vm}x?{ApiVersion}", TestContext.Current.CancellationToken);
        using var group = await _http.GetAsync($"/subscriptions/{_scenario.SubscriptionId}/resourceGroups/nope?{ApiVersion}", TestContext.Current.CancellationToken);
        using var subscription = await _http.GetAsync($"/subscriptions/11111111-0000-4000-8000-000000000001/resourcegroups?{ApiVersion}", TestContext.Current.CancellationToken);
        using var runOnMissing = await _http.PostAsync($"{Vm}x/runCommand?{ApiVersion}", RunShellScript("echo x"), TestContext.Current.CancellationToken);

        await AssertArmErrorAsync(vm, HttpStatusCode.NotFound, "ResourceNotFound");
        await AssertArmErrorAsync(group, HttpStatusCode.NotFound, "ResourceGroupNotFound");
        await AssertArmErrorAsync(subscription, HttpStatusCode.NotFound, "SubscriptionNotFound");
        await AssertArmErrorAsync(runOnMissing, HttpStatusCode.NotFound, "ResourceNotFound");
    }

    [Fact]
    public async Task Requests_without_api_version_or_token_or_with_a_bad_token_are_refused()
    {
        using var noVersion = await _http.GetAsync(Vm, TestContext.Current.CancellationToken);
        using var anonymous = new HttpRequestMessage(HttpMethod.Get, $"{Vm}?{ApiVersion}");
        anonymous.Headers.Authorization = null;
        using var plainClient = _server.CreateHttpClient();
        using var noToken = await plainClient.SendAsync(anonymous, TestContext.Current.CancellationToken);
        using var wrongAudience = new HttpRequestMessage(HttpMethod.Get, $"{Vm}?{ApiVersion}");
        wrongAudience.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _tokens.Issue("operator", "https://vault.azure.net", TimeSpan.FromHours(1)));
        using var audience = await plainClient.SendAsync(wrongAudience, TestContext.Current.CancellationToken);

        await AssertArmErrorAsync(noVersion, HttpStatusCode.BadRequest, "MissingApiVersionParameter");
        await AssertArmErrorAsync(noToken, HttpStatusCode.Unauthorized, "AuthenticationFailed");
        Assert.StartsWith("Bearer ", noToken.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        await AssertArmErrorAsync(audience, HttpStatusCode.Unauthorized, "InvalidAuthenticationTokenAudience");
    }

    [Fact]
    public async Task Network_resources_resolve_the_vm_addresses_and_its_ssh_rule()
    {
        var group = $"/subscriptions/{_scenario.SubscriptionId}/resourceGroups/latch-rg/providers/Microsoft.Network";
        using var nic = await _http.GetAsync($"{group}/networkInterfaces/vm1-nic?{ApiVersion}", TestContext.Current.CancellationToken);
        var ipConfiguration = (await JsonAsync(nic)).GetProperty("properties").GetProperty("ipConfigurations")[0].GetProperty("properties");
        var publicIpId = ipConfiguration.GetProperty("publicIPAddress").GetProperty("id").GetString()!;
        using var publicIp = await _http.GetAsync($"{publicIpId}?{ApiVersion}", TestContext.Current.CancellationToken);
        using var nsg = await _http.GetAsync($"{group}/networkSecurityGroups/vm1-nsg?{ApiVersion}", TestContext.Current.CancellationToken);

        Assert.Equal("169.254.1.2", ipConfiguration.GetProperty("privateIPAddress").GetString());
        Assert.Equal("203.0.113.7", (await JsonAsync(publicIp)).GetProperty("properties").GetProperty("ipAddress").GetString());
        var rule = (await JsonAsync(nsg)).GetProperty("properties").GetProperty("securityRules")[0].GetProperty("properties");
        Assert.Equal("22", rule.GetProperty("destinationPortRange").GetString());
        Assert.Equal("*", rule.GetProperty("sourceAddressPrefix").GetString());
        Assert.Equal("Allow", rule.GetProperty("access").GetString());
    }
}
