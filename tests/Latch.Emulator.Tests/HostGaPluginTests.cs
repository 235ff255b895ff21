using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Xml.Linq;

namespace Latch.Emulator.Tests;

public sealed class HostGaPluginTests
{
    private const string ApiVersion = "2015-09-01";

    /// <summary>The goal state the WireServer serves now, and its ExtensionsConfig (what waagent compares vmSettings with).</summary>
    private static async Task<(XDocument GoalState, XDocument ExtensionsConfig)> GoalStateAsync(TestEmulator emulator)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(emulator.Host.WireServer, "/machine/?comp=goalstate"));
        request.Headers.Add("x-ms-version", "2012-11-30");
        using var response = await emulator.Http.SendAsync(request, TestContext.Current.CancellationToken);
        var goal = WireServerTests.ParseHardened(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        var extensionsUri = new Uri(goal.Descendants("ExtensionsConfig").Single().Value);
        var extensions = WireServerTests.ParseHardened(await emulator.Http.GetStringAsync(extensionsUri, TestContext.Current.CancellationToken));
        return (goal, extensions);
    }

    /// <summary>A request with the headers waagent 2.7.3's get_vm_settings_request / _build_status_headers send.</summary>
    private static HttpRequestMessage PluginRequest(TestEmulator emulator, HttpMethod method, string path, XDocument goal, string? etag = null)
    {
        var request = new HttpRequestMessage(method, new Uri(emulator.Host.HostGaPlugin, path));
        request.Headers.Add("x-ms-version", ApiVersion);
        request.Headers.Add("x-ms-containerid", goal.Descendants("ContainerId").Single().Value);
        request.Headers.Add("x-ms-host-config-name", goal.Descendants("ConfigName").Single().Value);
        request.Headers.Add("x-ms-client-correlationid", Guid.NewGuid().ToString());
        if (etag is not null)
        {
            request.Headers.TryAddWithoutValidation("if-none-match", etag);
        }

        return request;
    }

    [Fact]
    public async Task Versions_list_the_api_waagent_requires_and_health_is_200()
    {
        await using var emulator = await TestEmulator.StartAsync();
        var ct = TestContext.Current.CancellationToken;

        using var versions = await emulator.Http.GetAsync(new Uri(emulator.Host.HostGaPlugin, "/versions"), ct);
        using var health = await emulator.Http.GetAsync(new Uri(emulator.Host.HostGaPlugin, "/health"), ct);

        Assert.Equal(HttpStatusCode.OK, versions.StatusCode);
        using var json = JsonDocument.Parse(await versions.Content.ReadAsStringAsync(ct));
        Assert.Equal([ApiVersion], json.RootElement.EnumerateArray().Select(v => v.GetString()));
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);

        using var endpoints = await emulator.ControlAsync(HttpMethod.Get, "/endpoints");
        using var listed = JsonDocument.Parse(await endpoints.Content.ReadAsStringAsync(ct));
        Assert.Equal(emulator.Host.HostGaPlugin.ToString(), listed.RootElement.GetProperty("hostGaPlugin").GetString());
    }

    [Fact]
    public async Task Vm_settings_repeat_the_extensions_config_of_the_same_goal_state()
    {
        await using var emulator = await TestEmulator.StartAsync();
        var ct = TestContext.Current.CancellationToken;
        var (goal, extensions) = await GoalStateAsync(emulator);

        using var request = PluginRequest(emulator, HttpMethod.Get, "/vmSettings", goal);
        using var response = await emulator.Http.SendAsync(request, ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var etag = Assert.Single(response.Headers.GetValues("ETag"));
        Assert.Matches("^[0-9]+$", etag);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(ct));
        var settings = json.RootElement;
        var metadata = extensions.Descendants("InVMGoalStateMetaData").Single();
        var statusBlob = extensions.Descendants("StatusUploadBlob").Single();
        Assert.Equal(metadata.Attribute("activityId")!.Value, settings.GetProperty("activityId").GetString());
        Assert.Equal(metadata.Attribute("correlationId")!.Value, settings.GetProperty("correlationId").GetString());
        Assert.Equal(long.Parse(metadata.Attribute("createdOnTicks")!.Value, CultureInfo.InvariantCulture), settings.GetProperty("extensionsLastModifiedTickCount").GetInt64());
        Assert.Equal(int.Parse(metadata.Attribute("inSvdSeqNo")!.Value, CultureInfo.InvariantCulture), settings.GetProperty("inSvdSeqNo").GetInt32());
        Assert.Equal(statusBlob.Value, settings.GetProperty("statusUploadBlob").GetProperty("value").GetString());
        Assert.Equal(statusBlob.Attribute("statusBlobType")!.Value, settings.GetProperty("statusUploadBlob").GetProperty("statusBlobType").GetString());
        Assert.Empty(extensions.Descendants("GAFamily"));
        Assert.Equal(0, settings.GetProperty("gaFamilies").GetArrayLength());
        Assert.Equal(0, settings.GetProperty("extensionGoalStates").GetArrayLength());
        Assert.Equal("Fabric", settings.GetProperty("extensionGoalStatesSource").GetString());
        Assert.True(Version.Parse(settings.GetProperty("hostGAPluginVersion").GetString()!) >= new Version(1, 0, 8, 115));
        Assert.Equal("vm-web", settings.GetProperty("inVMMetadata").GetProperty("vmName").GetString());
        Assert.Equal(1, emulator.Host.State.GetVm("vm-web").VmSettingsServedCount);

        // the same goal state fetched again (waagent polls it) keeps its creation time, so the two still agree
        var (_, again) = await GoalStateAsync(emulator);
        Assert.Equal(metadata.Attribute("createdOnTicks")!.Value, again.Descendants("InVMGoalStateMetaData").Single().Attribute("createdOnTicks")!.Value);
    }

    [Fact]
    public async Task Vm_settings_answer_304_for_the_current_etag_and_change_with_a_new_goal_state()
    {
        await using var emulator = await TestEmulator.StartAsync();
        var ct = TestContext.Current.CancellationToken;
        var (goal, _) = await GoalStateAsync(emulator);
        string etag;
        using (var first = await emulator.Http.SendAsync(PluginRequest(emulator, HttpMethod.Get, "/vmSettings", goal), ct))
        {
            etag = first.Headers.GetValues("ETag").Single();
        }

        using (var unchanged = await emulator.Http.SendAsync(PluginRequest(emulator, HttpMethod.Get, "/vmSettings", goal, etag), ct))
        {
            Assert.Equal(HttpStatusCode.NotModified, unchanged.StatusCode);
            Assert.Equal("", await unchanged.Content.ReadAsStringAsync(ct));
        }

        emulator.Host.State.GetVm("vm-web").BumpIncarnation();
        var (newGoal, newExtensions) = await GoalStateAsync(emulator);
        using var changed = await emulator.Http.SendAsync(PluginRequest(emulator, HttpMethod.Get, "/vmSettings", newGoal, etag), ct);

        Assert.Equal(HttpStatusCode.OK, changed.StatusCode);
        Assert.NotEqual(etag, changed.Headers.GetValues("ETag").Single());
        using var json = JsonDocument.Parse(await changed.Content.ReadAsStringAsync(ct));
        Assert.Equal(2, json.RootElement.GetProperty("inSvdSeqNo").GetInt32());
        Assert.Equal(
            newExtensions.Descendants("InVMGoalStateMetaData").Single().Attribute("activityId")!.Value,
            json.RootElement.GetProperty("activityId").GetString());
    }

    [Fact]
    public async Task Vm_settings_need_waagents_headers_and_a_current_container()
    {
        await using var emulator = await TestEmulator.StartAsync();
        var ct = TestContext.Current.CancellationToken;
        var (goal, _) = await GoalStateAsync(emulator);

        using var bare = await emulator.Http.GetAsync(new Uri(emulator.Host.HostGaPlugin, "/vmSettings"), ct);
        using var wrongVersion = PluginRequest(emulator, HttpMethod.Get, "/vmSettings", goal);
        wrongVersion.Headers.Remove("x-ms-version");
        wrongVersion.Headers.Add("x-ms-version", "2012-11-30");
        using var wrongVersionResponse = await emulator.Http.SendAsync(wrongVersion, ct);
        using var stale = PluginRequest(emulator, HttpMethod.Get, "/vmSettings", goal);
        stale.Headers.Remove("x-ms-containerid");
        stale.Headers.Add("x-ms-containerid", Guid.NewGuid().ToString());
        using var staleResponse = await emulator.Http.SendAsync(stale, ct);

        Assert.Equal(HttpStatusCode.BadRequest, bare.StatusCode);
        Assert.Contains("x-ms-version", await bare.Content.ReadAsStringAsync(ct), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, wrongVersionResponse.StatusCode);
        Assert.Equal(HttpStatusCode.Gone, staleResponse.StatusCode); // waagent refreshes the goal state on 410
        Assert.Equal(0, emulator.Host.State.GetVm("vm-web").VmSettingsServedCount);
    }

    [Fact]
    public async Task Status_put_through_the_plugin_becomes_the_vms_status_blob()
    {
        await using var emulator = await TestEmulator.StartAsync();
        var ct = TestContext.Current.CancellationToken;
        var (goal, extensions) = await GoalStateAsync(emulator);
        var vm = emulator.Host.State.GetVm("vm-web");
        var statusBlob = extensions.Descendants("StatusUploadBlob").Single().Value;
        const string status = "{\"version\":\"1.1\",\"timestampUTC\":\"2026-01-01T00:00:00Z\",\"aggregateStatus\":{\"guestAgentStatus\":{\"status\":\"Ready\"}}}";

        using var put = PluginRequest(emulator, HttpMethod.Put, "/status", goal);
        put.Content = new StringContent(StatusBody(statusBlob, "BlockBlob", Encoding.UTF8.GetBytes(status)), Encoding.UTF8, "application/json");
        using var response = await emulator.Http.SendAsync(put, ct);

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal(1, vm.StatusUploadCount);
        Assert.Equal(status, vm.LastStatusBlob);

        // a page blob: create it (no content), then one blank-padded page
        using var create = PluginRequest(emulator, HttpMethod.Put, "/status", goal);
        create.Content = new StringContent(StatusBody(statusBlob, "PageBlob", null), Encoding.UTF8, "application/json");
        using var created = await emulator.Http.SendAsync(create, ct);
        using var page = PluginRequest(emulator, HttpMethod.Put, "/status", goal);
        page.Content = new StringContent(StatusBody(statusBlob + "?comp=page", "PageBlob", Encoding.UTF8.GetBytes("{\"page\":1}".PadRight(512))), Encoding.UTF8, "application/json");
        using var paged = await emulator.Http.SendAsync(page, ct);

        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Equal(HttpStatusCode.Created, paged.StatusCode);
        Assert.Equal("{\"page\":1}", vm.LastStatusBlob);
        Assert.Equal(2, vm.StatusUploadCount);
    }

    [Fact]
    public async Task Status_put_for_another_blob_or_with_bad_content_is_refused_and_records_nothing()
    {
        await using var emulator = await TestEmulator.StartAsync();
        var ct = TestContext.Current.CancellationToken;
        var (goal, extensions) = await GoalStateAsync(emulator);
        var statusBlob = extensions.Descendants("StatusUploadBlob").Single().Value;

        async Task<HttpStatusCode> PutAsync(string body)
        {
            using var request = PluginRequest(emulator, HttpMethod.Put, "/status", goal);
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
            using var response = await emulator.Http.SendAsync(request, ct);
            return response.StatusCode;
        }

        Assert.Equal(HttpStatusCode.BadGateway, await PutAsync(StatusBody("http://168.63.129.16/machine/other/other/status", "BlockBlob", [1])));
        Assert.Equal(HttpStatusCode.BadRequest, await PutAsync(StatusBody(statusBlob, "BlockBlob", null)));
        Assert.Equal(HttpStatusCode.BadRequest, await PutAsync(StatusBody(statusBlob, "AppendBlob", [1])));
        Assert.Equal(HttpStatusCode.BadRequest, await PutAsync($"{{\"requestUri\":\"{statusBlob}\",\"headers\":[],\"content\":\"not base64!\"}}"));
        Assert.Equal(HttpStatusCode.BadRequest, await PutAsync("{\"requestUri\":"));
        Assert.Equal(0, emulator.Host.State.GetVm("vm-web").StatusUploadCount);
    }

    [Fact]
    public async Task Hostgaplugin_faults_answer_like_a_host_without_fast_track()
    {
        await using var emulator = await TestEmulator.StartAsync();
        var ct = TestContext.Current.CancellationToken;
        var (goal, _) = await GoalStateAsync(emulator);
        emulator.Host.State.Faults.Add(Faults.FaultRule.Parse("hostgaplugin:status=404,path=/vmSettings"));

        using var settings = await emulator.Http.SendAsync(PluginRequest(emulator, HttpMethod.Get, "/vmSettings", goal), ct);
        using var versions = await emulator.Http.GetAsync(new Uri(emulator.Host.HostGaPlugin, "/versions"), ct);

        Assert.Equal(HttpStatusCode.NotFound, settings.StatusCode); // waagent: "vmSettings is not supported"
        Assert.Equal(HttpStatusCode.OK, versions.StatusCode);
        Assert.Contains(emulator.Host.State.Requests, r => r.Group == "hostgaplugin" && r.Path == "/vmSettings" && r.Fault is not null);
    }

    /// <summary>The body of waagent's PUT /status (hostplugin._build_status_data): the blob's URL, its headers, base64 content.</summary>
    private static string StatusBody(string requestUri, string blobType, byte[]? content)
    {
        var headers = new[] { ("Content-Length", (content?.Length ?? 0).ToString(CultureInfo.InvariantCulture)), ("x-ms-blob-type", blobType), ("x-ms-version", "2014-02-14") };
        var json = new StringBuilder("{");
        if (content is not null)
        {
            json.Append(CultureInfo.InvariantCulture, $"\"content\": \"{Convert.ToBase64String(content)}\", ");
        }

        json.Append("\"headers\": [");
        json.AppendJoin(", ", headers.Select(h => $"{{\"headerName\": \"{h.Item1}\", \"headerValue\": \"{h.Item2}\"}}"));
        json.Append(CultureInfo.InvariantCulture, $"], \"requestUri\": \"{requestUri}\"}}");
        return json.ToString();
    }
}
