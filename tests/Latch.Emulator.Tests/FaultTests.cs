using System.Net;
using System.Text.Json;
using Latch.Emulator.Faults;
using Microsoft.Extensions.Time.Testing;

namespace Latch.Emulator.Tests;

public sealed class FaultTests
{
    private const string Instance = "/metadata/instance?api-version=2021-02-01";

    private static async Task AddAsync(TestEmulator emulator, string spec)
    {
        using var response = await emulator.ControlAsync(HttpMethod.Post, "/faults", $"{{\"spec\":\"{spec}\"}}");
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
    }

    [Fact]
    public async Task Reset_aborts_the_connection()
    {
        await using var emulator = await TestEmulator.StartAsync();
        await AddAsync(emulator, "imds:reset,count=1");

        await Assert.ThrowsAsync<HttpRequestException>(() => emulator.ImdsAsync(Instance));
        using var next = await emulator.ImdsAsync(Instance);

        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
        await TestEmulator.EventuallyAsync(() => emulator.Host.State.Requests.Any(r => r.Fault == "imds:reset,count=1" && r.Status == 0));
    }

    [Fact]
    public async Task Lost_lets_the_endpoint_act_then_aborts_instead_of_answering()
    {
        await using var emulator = await TestEmulator.StartAsync();
        await AddAsync(emulator, "wireserver:lost,path=/provisioning,count=1");

        await Assert.ThrowsAsync<HttpRequestException>(() => emulator.Http.PostAsync(
            new Uri(emulator.Host.WireServer, "/provisioning/health"),
            new StringContent("{\"state\":\"Ready\"}", System.Text.Encoding.UTF8, "application/json"),
            TestContext.Current.CancellationToken));

        // the report was taken although the client never heard back
        var report = Assert.Single(emulator.Host.State.GetVm("vm-web").HealthReports);
        Assert.Equal("Ready", report.State);
        await TestEmulator.EventuallyAsync(() => emulator.Host.State.Requests.Any(r => r.Fault == "wireserver:lost,path=/provisioning,count=1" && r.Status == 0));
    }

    [Fact]
    public async Task Truncated_body_fails_while_reading()
    {
        await using var emulator = await TestEmulator.StartAsync();
        await AddAsync(emulator, "imds:truncate");

        using var response = await emulator.Http.SendAsync(
            new HttpRequestMessage(HttpMethod.Get, new Uri(emulator.Host.Imds, Instance)) { Headers = { { "Metadata", "true" } } },
            HttpCompletionOption.ResponseHeadersRead,
            TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(response.Content.Headers.ContentLength > 4096);
        var body = await response.Content.ReadAsStreamAsync(TestContext.Current.CancellationToken);
        await Assert.ThrowsAnyAsync<IOException>(() => body.CopyToAsync(Stream.Null, TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Gone_answers_410_and_status_answers_503_for_count_requests()
    {
        await using var emulator = await TestEmulator.StartAsync();
        await AddAsync(emulator, "imds:gone,count=1");
        await AddAsync(emulator, "imds:status=503,count=2");

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 4; i++)
        {
            using var response = await emulator.ImdsAsync(Instance);
            statuses.Add(response.StatusCode);
        }

        Assert.Equal([HttpStatusCode.Gone, HttpStatusCode.ServiceUnavailable, HttpStatusCode.ServiceUnavailable, HttpStatusCode.OK], statuses);
    }

    [Fact]
    public async Task Throttle_answers_429_with_retry_after()
    {
        await using var emulator = await TestEmulator.StartAsync();
        await AddAsync(emulator, "keyvault:throttle=7");

        using var response = await emulator.TrustingHttp.GetAsync(new Uri(emulator.Host.KeyVault, "/secrets/x?api-version=7.4"), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(7), response.Headers.RetryAfter?.Delta);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        Assert.Equal("TooManyRequests", json.RootElement.GetProperty("error").GetProperty("code").GetString());
    }

    [Theory]
    [InlineData("keyvault", 403, "Forbidden")]
    [InlineData("arm", 403, "Forbidden")]
    [InlineData("keyvault", 404, "NotFound")]
    [InlineData("arm", 409, "Conflict")]
    [InlineData("keyvault", 500, "InternalServerError")]
    [InlineData("arm", 502, "BadGateway")]
    [InlineData("keyvault", 503, "ServiceUnavailable")]
    [InlineData("arm", 504, "GatewayTimeout")]
    public async Task A_status_fault_answers_with_the_code_and_reason_of_that_status(string group, int status, string code)
    {
        await using var emulator = await TestEmulator.StartAsync();
        await AddAsync(emulator, $"{group}:status={status}");
        var url = group == "keyvault" ? new Uri(emulator.Host.KeyVault, "/secrets/x?api-version=7.4") : new Uri(emulator.Host.Arm, "/subscriptions?api-version=2022-12-01");

        using var response = await emulator.TrustingHttp.GetAsync(url, TestContext.Current.CancellationToken);

        Assert.Equal(status, (int)response.StatusCode);
        Assert.Equal(Microsoft.AspNetCore.WebUtilities.ReasonPhrases.GetReasonPhrase(status), response.ReasonPhrase);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        var error = json.RootElement.GetProperty("error");
        Assert.Equal(code, error.GetProperty("code").GetString());
        if (status != 500)
        {
            Assert.DoesNotContain("Internal server error", error.GetProperty("message").GetString(), StringComparison.OrdinalIgnoreCase);
        }
    }

    [Fact]
    public async Task A_4xx_status_fault_on_the_wireserver_and_identity_names_that_status_not_a_server_error()
    {
        await using var emulator = await TestEmulator.StartAsync();
        await AddAsync(emulator, "wireserver:status=403");
        await AddAsync(emulator, "identity:status=403");

        using var wire = await emulator.Http.GetAsync(new Uri(emulator.Host.WireServer, "/machine/?comp=goalstate"), TestContext.Current.CancellationToken);
        using var token = await emulator.ImdsAsync("/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://vault.azure.net");

        Assert.Equal(HttpStatusCode.Forbidden, wire.StatusCode);
        Assert.Contains("<Code>Forbidden</Code>", await wire.Content.ReadAsStringAsync(TestContext.Current.CancellationToken), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Forbidden, token.StatusCode);
        using var json = JsonDocument.Parse(await token.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        Assert.Equal("access_denied", json.RootElement.GetProperty("error").GetString());
    }

    [Fact]
    public async Task Limit_lets_that_many_requests_through_per_10_second_window_then_answers_429_until_the_window_ends()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 25, 12, 0, 3, TimeSpan.Zero));
        await using var emulator = await TestEmulator.StartAsync(time: time);
        await AddAsync(emulator, "keyvault:limit=3");
        async Task<HttpResponseMessage> GetAsync() =>
            await emulator.TrustingHttp.GetAsync(new Uri(emulator.Host.KeyVault, "/secrets/x?api-version=7.4"), TestContext.Current.CancellationToken);

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 4; i++)
        {
            using var response = await GetAsync();
            statuses.Add(response.StatusCode);
            if (i == 3)
            {
                // 12:00:03 is 7 s before the window ends at 12:00:10
                Assert.Equal(TimeSpan.FromSeconds(7), response.Headers.RetryAfter?.Delta);
            }
        }

        time.Advance(TimeSpan.FromSeconds(7));
        using var nextWindow = await GetAsync();

        Assert.DoesNotContain(HttpStatusCode.TooManyRequests, statuses.Take(3));
        Assert.Equal(HttpStatusCode.TooManyRequests, statuses[3]);
        Assert.NotEqual(HttpStatusCode.TooManyRequests, nextWindow.StatusCode);
    }

    [Fact]
    public async Task Latency_holds_the_answer_until_that_much_time_passed()
    {
        var time = new FakeTimeProvider();
        await using var emulator = await TestEmulator.StartAsync(time: time);
        await AddAsync(emulator, "imds:latency=500,count=1");

        var pending = emulator.ImdsAsync(Instance);
        var advanced = TimeSpan.Zero;
        while (!pending.IsCompleted)
        {
            Assert.True(advanced <= TimeSpan.FromMinutes(1), "the request never completed");
            await Task.Delay(20, TestContext.Current.CancellationToken);   // let the request reach the server first
            if (pending.IsCompleted)
            {
                break;
            }

            time.Advance(TimeSpan.FromMilliseconds(100));
            advanced += TimeSpan.FromMilliseconds(100);
        }

        using var response = await pending;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(advanced >= TimeSpan.FromMilliseconds(500), $"answered after only {advanced.TotalMilliseconds} ms of emulator time");
    }

    [Fact]
    public async Task Timeout_holds_the_request_until_the_client_gives_up()
    {
        await using var emulator = await TestEmulator.StartAsync();
        await AddAsync(emulator, "wireserver:timeout=600000");
        using var giveUp = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        giveUp.CancelAfter(TimeSpan.FromMilliseconds(300));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => emulator.Http.GetAsync(new Uri(emulator.Host.WireServer, "/?comp=versions"), giveUp.Token));
    }

    [Fact]
    public async Task Malformed_body_is_not_valid_json_or_xml()
    {
        await using var emulator = await TestEmulator.StartAsync();
        await AddAsync(emulator, "imds:malformed,count=1");
        await AddAsync(emulator, "wireserver:malformed,count=1");

        using var imds = await emulator.ImdsAsync(Instance);
        var wire = await emulator.Http.GetStringAsync(new Uri(emulator.Host.WireServer, "/?comp=versions"), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.OK, imds.StatusCode);
        Assert.ThrowsAny<JsonException>(() => JsonDocument.Parse(imds.Content.ReadAsStringAsync(TestContext.Current.CancellationToken).Result));
        Assert.ThrowsAny<System.Xml.XmlException>(() => WireServerTests.ParseHardened(wire));
    }

    [Fact]
    public async Task Path_prefix_limits_a_fault_to_matching_requests()
    {
        await using var emulator = await TestEmulator.StartAsync();
        await AddAsync(emulator, "imds:status=500,path=/metadata/instance/compute");

        using var network = await emulator.ImdsAsync("/metadata/instance/network?api-version=2021-02-01");
        using var compute = await emulator.ImdsAsync("/metadata/instance/compute?api-version=2021-02-01");

        Assert.Equal(HttpStatusCode.OK, network.StatusCode);
        Assert.Equal(HttpStatusCode.InternalServerError, compute.StatusCode);
    }

    [Fact]
    public async Task Identity_faults_hit_only_the_managed_identity_paths_on_the_imds_listener()
    {
        await using var emulator = await TestEmulator.StartAsync();
        await AddAsync(emulator, "identity:status=503");

        using var token = await emulator.ImdsAsync("/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://vault.azure.net");
        using var instance = await emulator.ImdsAsync(Instance);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, token.StatusCode);
        Assert.Equal(HttpStatusCode.OK, instance.StatusCode);
        Assert.Contains(emulator.Host.State.Requests, r => r.Group == "identity");
    }

    [Fact]
    public async Task Faults_are_listed_and_cleared_through_the_control_api()
    {
        await using var emulator = await TestEmulator.StartAsync();
        await AddAsync(emulator, "imds:status=500");
        using (var byFields = await emulator.ControlAsync(HttpMethod.Post, "/faults", "{\"group\":\"arm\",\"kind\":\"Throttle\",\"retryAfterSeconds\":3,\"count\":2}"))
        {
            Assert.Equal(HttpStatusCode.Created, byFields.StatusCode);
        }

        using var list = await emulator.ControlAsync(HttpMethod.Get, "/faults");
        using var json = JsonDocument.Parse(await list.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        Assert.Equal(["imds", "arm"], json.RootElement.EnumerateArray().Select(f => f.GetProperty("group").GetString()));

        using var cleared = await emulator.ControlAsync(HttpMethod.Delete, "/faults");
        using var after = await emulator.ImdsAsync(Instance);
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
        Assert.Empty(emulator.Host.State.Faults.Active);
    }

    [Fact]
    public async Task A_bad_fault_spec_is_a_400_that_says_what_to_write()
    {
        await using var emulator = await TestEmulator.StartAsync();

        using var response = await emulator.ControlAsync(HttpMethod.Post, "/faults", "{\"spec\":\"imds:explode\"}");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("unknown kind 'explode'", await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("imds:status=503,count=3", "imds", FaultKind.Status, 503, 3, null)]
    [InlineData("wireserver:reset,path=/machine", "wireserver", FaultKind.Reset, null, null, "/machine")]
    [InlineData("*:latency=250", "*", FaultKind.Latency, 250, null, null)]
    [InlineData("arm:lost,path=/subscriptions,count=1", "arm", FaultKind.Lost, null, 1, "/subscriptions")]
    public void Fault_specs_parse(string spec, string group, FaultKind kind, int? value, int? count, string? path)
    {
        var rule = FaultRule.Parse(spec);

        Assert.Equal((group, kind, value, count, path), (rule.Group, rule.Kind, rule.Value, rule.Count, rule.PathPrefix));
        Assert.Equal(spec, rule.ToString());
    }

    [Theory]
    [InlineData("imds")]
    [InlineData("moon:reset")]
    [InlineData("imds:status=200")]
    [InlineData("imds:latency")]
    [InlineData("imds:reset,count=0")]
    [InlineData("imds:reset,path=metadata")]
    public void Bad_fault_specs_are_rejected(string spec) => Assert.Throws<FormatException>(() => FaultRule.Parse(spec));
}
