using System.Text;
using Latch.Azure.Tests.Infrastructure;

namespace Latch.Azure.Tests;

public sealed class ImdsClientTests
{
    private static readonly CancellationToken Ct = TestContext.Current.CancellationToken;

    [Fact]
    public async Task Reads_instance_metadata_with_the_metadata_header_and_a_recent_api_version()
    {
        await using var server = ScriptedServer.Always(ServerAction.Json(200, Fixtures.ImdsInstance));
        using var client = new ImdsClient(TestOptions.Imds(server.BaseAddress));

        var instance = await client.GetInstanceAsync(Ct);

        var request = Assert.Single(server.Requests);
        Assert.Equal("true", request.Header("Metadata"), ignoreCase: true);
        Assert.StartsWith("/metadata/instance?api-version=", request.Target, StringComparison.Ordinal);
        var version = request.Target["/metadata/instance?api-version=".Length..];
        Assert.True(string.CompareOrdinal(version, "2021-02-01") >= 0, version);
        Assert.Equal("latch-vm1", instance.Compute.Name);
        Assert.Equal("0b5f7a8e-1c3d-4e5f-8a9b-0c1d2e3f4a5b", instance.Compute.VmId);
        Assert.Equal("latch-rg", instance.Compute.ResourceGroupName);
        Assert.Equal("Standard_B2s", instance.Compute.VmSize);
        Assert.Equal("ops:team", instance.Compute.Tags["owner"]);
        Assert.Equal(new ImdsOsProfile("azureuser", "latch-vm1", true), instance.Compute.OsProfile);
        Assert.Equal("I2Nsb3VkLWNvbmZpZw==", instance.Compute.UserData);
        Assert.Null(instance.Compute.CustomData);
        var nic = Assert.Single(instance.NetworkInterfaces);
        Assert.Equal(new ImdsIpAddress("10.1.0.4", "20.30.40.50"), Assert.Single(nic.Ipv4Addresses));
        Assert.Equal("000D3A123456", nic.MacAddress);
    }

    [Fact]
    public void Strips_carriage_returns_and_newlines_from_key_data()
    {
        var instance = ImdsClient.Parse(Encoding.UTF8.GetBytes(Fixtures.ImdsInstance));

        Assert.Collection(
            instance.Compute.PublicKeys,
            k => Assert.Equal("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFirstKeyFirstKeyFirstKeyFirstKeyFirstKey01 alice@laptop", k.KeyData),
            k => Assert.Equal("ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQSecondKey bob@desk", k.KeyData));
        Assert.All(instance.Compute.PublicKeys, k => Assert.Equal("/home/azureuser/.ssh/authorized_keys", k.Path));
    }

    [Theory]
    [InlineData("\"true\"", true)]
    [InlineData("\"false\"", false)]
    [InlineData("\"False\"", false)]
    [InlineData("true", true)]
    [InlineData("false", false)]
    public void Accepts_disablePasswordAuthentication_as_string_or_bool(string json, bool expected)
    {
        var body = Fixtures.ImdsInstance.Replace("\"disablePasswordAuthentication\": \"true\"", "\"disablePasswordAuthentication\": " + json, StringComparison.Ordinal);

        Assert.Equal(expected, ImdsClient.Parse(Encoding.UTF8.GetBytes(body)).Compute.OsProfile!.DisablePasswordAuthentication);
    }

    [Fact]
    public void Falls_back_to_the_tags_string_when_tagsList_is_absent()
    {
        var body = Fixtures.ImdsInstance.Replace("\"tagsList\"", "\"ignoredTagsList\"", StringComparison.Ordinal);

        var tags = ImdsClient.Parse(Encoding.UTF8.GetBytes(body)).Compute.Tags;

        Assert.Equal("test", tags["env"]);
        Assert.Equal("ops", tags["owner"]);
    }

    [Fact]
    public void Missing_vmId_is_named_in_the_error()
    {
        var body = Fixtures.ImdsInstance.Replace("\"vmId\"", "\"vmIdentifier\"", StringComparison.Ordinal);

        var error = Assert.Throws<AzureFormatException>(() => ImdsClient.Parse(Encoding.UTF8.GetBytes(body)));

        Assert.Contains("compute.vmId", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Retries_404_and_410_while_imds_is_booting_then_succeeds()
    {
        await using var server = ScriptedServer.Sequence(ServerAction.Status(404), ServerAction.Status(410), ServerAction.Status(503), ServerAction.Json(200, Fixtures.ImdsInstance));
        using var client = new ImdsClient(TestOptions.Imds(server.BaseAddress));

        var instance = await client.GetInstanceAsync(Ct);

        Assert.Equal("latch-vm1", instance.Compute.Name);
        Assert.Equal(4, server.Requests.Count);
    }

    [Fact]
    public async Task Retries_a_body_that_does_not_parse_then_succeeds()
    {
        await using var server = ScriptedServer.Sequence(ServerAction.Json(200, "{\"compute\": {\"name\": \"x\""), ServerAction.Json(200, "<html>oops</html>"), ServerAction.Json(200, Fixtures.ImdsInstance));
        using var client = new ImdsClient(TestOptions.Imds(server.BaseAddress));

        var instance = await client.GetInstanceAsync(Ct);

        Assert.Equal("latch-vm1", instance.Compute.Name);
        Assert.Equal(3, server.Requests.Count);
    }

    [Fact]
    public async Task A_body_that_never_parses_ends_in_a_clear_error_after_bounded_attempts()
    {
        await using var server = ScriptedServer.Always(ServerAction.Json(200, "not json"));
        using var client = new ImdsClient(TestOptions.Imds(server.BaseAddress, maxAttempts: 3));

        var error = await Assert.ThrowsAsync<AzureRequestException>(() => client.GetInstanceAsync(Ct));

        Assert.Equal(3, server.Requests.Count);
        Assert.Equal(3, error.Attempts);
        Assert.Contains("IMDS", error.Message, StringComparison.Ordinal);
        Assert.Contains("3 attempt(s)", error.Message, StringComparison.Ordinal);
        Assert.Contains("not valid JSON", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Recovers_from_connection_resets_and_truncated_bodies()
    {
        var body = Encoding.UTF8.GetBytes(Fixtures.ImdsInstance);
        await using var server = ScriptedServer.Sequence(new Reset(), new Truncated(200, body[..100], body.Length), ServerAction.Json(200, Fixtures.ImdsInstance));
        using var client = new ImdsClient(TestOptions.Imds(server.BaseAddress));

        var instance = await client.GetInstanceAsync(Ct);

        Assert.Equal("latch-vm1", instance.Compute.Name);
        Assert.Equal(3, server.Requests.Count);
    }

    [Fact]
    public async Task A_hanging_server_hits_the_per_call_deadline_and_the_next_attempt_succeeds()
    {
        await using var server = ScriptedServer.Sequence(new Hang(), ServerAction.Json(200, Fixtures.ImdsInstance));
        using var client = new ImdsClient(TestOptions.Imds(server.BaseAddress, perCallSeconds: 0.3));

        var instance = await client.GetInstanceAsync(Ct);

        Assert.Equal("latch-vm1", instance.Compute.Name);
        Assert.Equal(2, server.Requests.Count);
    }

    [Fact]
    public async Task Gives_up_at_the_total_deadline_naming_endpoint_attempts_and_last_error()
    {
        await using var server = ScriptedServer.Always(new Hang());
        using var client = new ImdsClient(TestOptions.Imds(server.BaseAddress, maxAttempts: 100, perCallSeconds: 0.2, totalSeconds: 0.7));

        var error = await Assert.ThrowsAsync<AzureRequestException>(() => client.GetInstanceAsync(Ct));

        Assert.Null(error.Status);
        Assert.InRange(error.Attempts, 1, 10);
        Assert.Contains("IMDS GET /metadata/instance", error.Message, StringComparison.Ordinal);
        Assert.Contains("deadline", error.Message, StringComparison.Ordinal);
        Assert.Contains("no complete response within", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(400)]
    [InlineData(401)]
    [InlineData(403)]
    public async Task Does_not_retry_client_errors(int status)
    {
        await using var server = ScriptedServer.Always(ServerAction.Json(status, "{\"error\":\"bad\"}"));
        using var client = new ImdsClient(TestOptions.Imds(server.BaseAddress));

        var error = await Assert.ThrowsAsync<AzureRequestException>(() => client.GetInstanceAsync(Ct));

        Assert.Equal(status, error.Status);
        Assert.Single(server.Requests);
    }

    [Fact]
    public async Task Honours_retry_after_on_429()
    {
        await using var server = ScriptedServer.Sequence(ServerAction.Status(429, ("Retry-After", "1")), ServerAction.Json(200, Fixtures.ImdsInstance));
        var logger = new RecordingLogger();
        using var client = new ImdsClient(TestOptions.Imds(server.BaseAddress, logger: logger));

        await client.GetInstanceAsync(Ct);

        // the configured backoff is milliseconds, so a 1000 ms wait can only come from Retry-After
        Assert.Contains(logger.Lines, l => l.Contains("HTTP 429", StringComparison.Ordinal) && l.Contains("retrying in 1000 ms", StringComparison.Ordinal));
        Assert.Equal(2, server.Requests.Count);
    }

    [Fact]
    public async Task A_retry_after_beyond_the_deadline_fails_at_once_and_says_so()
    {
        await using var server = ScriptedServer.Always(ServerAction.Status(429, ("Retry-After", "3600")));
        using var client = new ImdsClient(TestOptions.Imds(server.BaseAddress, totalSeconds: 30));

        var error = await Assert.ThrowsAsync<AzureRequestException>(() => client.GetInstanceAsync(Ct));

        Assert.Single(server.Requests);
        Assert.Equal(429, error.Status);
        Assert.Contains("Retry-After", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Connection_refused_is_retried_then_reported()
    {
        Uri closed;
        await using (var server = ScriptedServer.Always(ServerAction.Status(200)))
        {
            closed = server.BaseAddress;
        }

        using var client = new ImdsClient(TestOptions.Imds(closed, maxAttempts: 3));

        var error = await Assert.ThrowsAsync<AzureRequestException>(() => client.GetInstanceAsync(Ct));

        Assert.Equal(3, error.Attempts);
        Assert.Contains("connection failed", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Caller_cancellation_stops_at_once_without_wrapping()
    {
        await using var server = ScriptedServer.Always(new Hang());
        using var client = new ImdsClient(TestOptions.Imds(server.BaseAddress));
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        cts.CancelAfter(TimeSpan.FromMilliseconds(200));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.GetInstanceAsync(cts.Token));
    }

    [Fact]
    public async Task Does_not_use_a_proxy_unless_told()
    {
        // IMDS rejects proxied requests; the default handler must ignore HTTP_PROXY-style settings
        await using var server = ScriptedServer.Always(ServerAction.Json(200, Fixtures.ImdsInstance));
        using var client = new ImdsClient(TestOptions.Imds(server.BaseAddress));

        await client.GetInstanceAsync(Ct);

        Assert.StartsWith("/metadata", Assert.Single(server.Requests).Target, StringComparison.Ordinal);
    }
}
