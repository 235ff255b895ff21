using System.Net;
using System.Text.Json;

namespace Latch.Emulator.Tests;

public sealed class RequestLogTests
{
    [Fact]
    public async Task Every_request_is_logged_with_status_and_secret_query_values_masked()
    {
        await using var emulator = await TestEmulator.StartAsync();

        using var response = await emulator.ImdsAsync("/metadata/instance?api-version=2021-02-01&sig=SIGNATURE-SECRET&code=AUTH-CODE-SECRET&client_secret=CS-SECRET");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await TestEmulator.EventuallyAsync(() => emulator.Logs.Lines.Any(l => l.Contains("imds GET /metadata/instance", StringComparison.Ordinal)));

        var line = emulator.Logs.Lines.Single(l => l.Contains("imds GET /metadata/instance", StringComparison.Ordinal));
        Assert.StartsWith("Information", line, StringComparison.Ordinal);
        Assert.Contains("api-version=2021-02-01&sig=***&code=***&client_secret=***", line, StringComparison.Ordinal);
        Assert.Contains("-> 200 in ", line, StringComparison.Ordinal);
        foreach (var secret in new[] { "SIGNATURE-SECRET", "AUTH-CODE-SECRET", "CS-SECRET" })
        {
            Assert.DoesNotContain(secret, emulator.Logs.All, StringComparison.Ordinal);
        }

        using var requests = await emulator.ControlAsync(HttpMethod.Get, "/requests?group=imds");
        var body = await requests.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.DoesNotContain("SIGNATURE-SECRET", body, StringComparison.Ordinal);
        using var json = JsonDocument.Parse(body);
        var record = Assert.Single(json.RootElement.EnumerateArray().ToArray());
        Assert.Equal("GET", record.GetProperty("method").GetString());
        Assert.Equal(200, record.GetProperty("status").GetInt32());
        Assert.Equal("127.0.0.1", record.GetProperty("remoteAddress").GetString());
        Assert.True(record.GetProperty("durationMs").GetDouble() >= 0);
    }

    [Fact]
    public async Task Vms_list_shows_ids_incarnation_and_keys()
    {
        await using var emulator = await TestEmulator.StartAsync();

        using var response = await emulator.ControlAsync(HttpMethod.Get, "/vms");
        using var unknown = await emulator.ControlAsync(HttpMethod.Get, "/vms/vm-nope/health-reports");

        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        var web = json.RootElement[0];
        Assert.Equal("vm-web", web.GetProperty("name").GetString());
        Assert.Equal(1, web.GetProperty("incarnation").GetInt32());
        Assert.Equal(emulator.Host.State.GetVm("vm-web").ContainerId, web.GetProperty("containerId").GetString());
        Assert.Equal(TestEmulator.WebKey, web.GetProperty("publicKeys")[0].GetProperty("keyData").GetString());
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Contains("vm-web, vm-db", await unknown.Content.ReadAsStringAsync(TestContext.Current.CancellationToken), StringComparison.Ordinal);
    }
}
