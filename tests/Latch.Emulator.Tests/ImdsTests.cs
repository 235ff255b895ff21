using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Latch.Testing;

namespace Latch.Emulator.Tests;

public sealed class ImdsTests
{
    private const string Latest = "/metadata/instance?api-version=2023-11-15&extended=true";

    [Fact]
    public async Task Instance_document_has_the_azure_shape_azure_init_reads()
    {
        await using var emulator = await TestEmulator.StartAsync();

        using var response = await emulator.ImdsAsync(Latest);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        var compute = json.RootElement.GetProperty("compute");
        Assert.Equal("vm-web", compute.GetProperty("name").GetString());
        Assert.Equal("Linux", compute.GetProperty("osType").GetString());
        Assert.Equal("rg-test", compute.GetProperty("resourceGroupName").GetString());
        Assert.Equal("11111111-2222-4333-8444-555555555555", compute.GetProperty("subscriptionId").GetString());
        Assert.Equal("/subscriptions/11111111-2222-4333-8444-555555555555/resourceGroups/rg-test/providers/Microsoft.Compute/virtualMachines/vm-web", compute.GetProperty("resourceId").GetString());
        Assert.Equal("0b8e6f0a-1f0c-4c35-9b0e-2f3a4d5e6f70", compute.GetProperty("vmId").GetString());
        var profile = compute.GetProperty("osProfile");
        Assert.Equal("azureuser", profile.GetProperty("adminUsername").GetString());
        Assert.Equal("vm-web", profile.GetProperty("computerName").GetString());
        Assert.Equal(JsonValueKind.String, profile.GetProperty("disablePasswordAuthentication").ValueKind);
        Assert.Equal("false", profile.GetProperty("disablePasswordAuthentication").GetString());
        var keys = compute.GetProperty("publicKeys").EnumerateArray().ToArray();
        Assert.Equal([TestEmulator.WebKey, TestEmulator.OperatorKey], keys.Select(k => k.GetProperty("keyData").GetString()));
        Assert.All(keys, k => Assert.Equal("/home/azureuser/.ssh/authorized_keys", k.GetProperty("path").GetString()));
        Assert.Equal("env:test;role:web", compute.GetProperty("tags").GetString());
        Assert.Equal(2, compute.GetProperty("tagsList").GetArrayLength());
        Assert.Equal("", compute.GetProperty("customData").GetString());
        var nic = json.RootElement.GetProperty("network").GetProperty("interface")[0];
        Assert.Equal("169.254.1.2", nic.GetProperty("ipv4").GetProperty("ipAddress")[0].GetProperty("privateIpAddress").GetString());
        Assert.Matches("^[0-9A-F]{12}$", nic.GetProperty("macAddress").GetString());
        Assert.True(json.RootElement.GetProperty("extended").GetProperty("compute").GetProperty("hasCustomData").GetBoolean());
    }

    [Fact]
    public async Task Request_without_metadata_header_gets_400_with_the_azure_error()
    {
        await using var emulator = await TestEmulator.StartAsync();

        using var response = await emulator.ImdsAsync(Latest, metadataHeader: false);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("{\"error\":\"Bad request. Required metadata header not specified\"}", await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Metadata_header_false_is_the_same_as_missing()
    {
        await using var emulator = await TestEmulator.StartAsync();
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(emulator.Host.Imds, Latest));
        request.Headers.Add("Metadata", "false");

        using var response = await emulator.Http.SendAsync(request, TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Fact]
    public async Task Missing_api_version_lists_the_newest_versions()
    {
        await using var emulator = await TestEmulator.StartAsync();

        using var response = await emulator.ImdsAsync("/metadata/instance");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        Assert.Equal("Bad request. api-version was not specified in the request. For more information refer to aka.ms/azureimds", json.RootElement.GetProperty("error").GetString());
        Assert.Equal(3, json.RootElement.GetProperty("newest-versions").GetArrayLength());
    }

    [Fact]
    public async Task Unsupported_api_version_is_rejected_with_newest_versions()
    {
        await using var emulator = await TestEmulator.StartAsync();

        using var response = await emulator.ImdsAsync("/metadata/instance?api-version=2099-01-01");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        Assert.StartsWith("Bad request. api-version is invalid", json.RootElement.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Equal(["2025-04-07", "2024-07-17", "2024-03-15"], json.RootElement.GetProperty("newest-versions").EnumerateArray().Select(v => v.GetString()));
    }

    [Fact]
    public async Task Request_through_a_proxy_with_x_forwarded_for_is_rejected()
    {
        await using var emulator = await TestEmulator.StartAsync();
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(emulator.Host.Imds, Latest));
        request.Headers.Add("Metadata", "true");
        request.Headers.Add("X-Forwarded-For", "203.0.113.7");

        using var response = await emulator.Http.SendAsync(request, TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("X-Forwarded-For", await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Leaf_values_come_as_text_and_need_format_text()
    {
        await using var emulator = await TestEmulator.StartAsync();

        using var text = await emulator.ImdsAsync("/metadata/instance/compute/vmId?api-version=2019-06-01&format=text");
        using var json = await emulator.ImdsAsync("/metadata/instance/compute/vmId?api-version=2019-06-01");

        Assert.Equal("0b8e6f0a-1f0c-4c35-9b0e-2f3a4d5e6f70", await text.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        Assert.Equal("text/plain", text.Content.Headers.ContentType?.MediaType);
        Assert.Equal(HttpStatusCode.BadRequest, json.StatusCode);
    }

    [Fact]
    public async Task Route_parameters_walk_into_objects_and_arrays()
    {
        await using var emulator = await TestEmulator.StartAsync();

        using var keys = await emulator.ImdsAsync("/metadata/instance/compute/publicKeys?api-version=2019-06-01");
        using var address = await emulator.ImdsAsync("/metadata/instance/network/interface/0/ipv4/ipAddress/0/privateIpAddress?api-version=2021-02-01&format=text");
        using var missing = await emulator.ImdsAsync("/metadata/instance/compute/nothing?api-version=2021-02-01");

        using var array = JsonDocument.Parse(await keys.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        Assert.Equal(2, array.RootElement.GetArrayLength());
        Assert.Equal("169.254.1.2", await address.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }

    [Fact]
    public async Task Old_api_version_does_not_show_fields_it_predates()
    {
        await using var emulator = await TestEmulator.StartAsync();

        // waagent 2.7.3 asks with 2018-02-01: no osProfile (2020-07-15) and no publicKeys (2018-04-02) then
        using var response = await emulator.ImdsAsync("/metadata/instance/compute?api-version=2018-02-01");

        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        Assert.True(json.RootElement.TryGetProperty("location", out _));
        Assert.True(json.RootElement.TryGetProperty("vmSize", out _));
        Assert.False(json.RootElement.TryGetProperty("osProfile", out _));
        Assert.False(json.RootElement.TryGetProperty("publicKeys", out _));
    }

    // compute's fields per api-version, written out from the IMDS documentation's schema breakdown ("Version introduced")
    private static readonly string[] s_compute2017 = ["location", "name", "offer", "osType", "platformFaultDomain", "platformUpdateDomain", "publisher", "sku", "version", "vmId", "vmSize"];

    // exactly the properties of waagent 2.7.3's ComputeInfo, which warns "Unknown property" about anything else
    private static readonly string[] s_compute2018 = [.. s_compute2017, "placementGroupId", "resourceGroupName", "subscriptionId", "tags", "vmScaleSetName", "zone"];
    private static readonly string[] s_compute2019 = [.. s_compute2018, "plan", "publicKeys", "azEnvironment", "provider", "customData", "resourceId", "storageProfile"];
    private static readonly string[] s_compute2020 = [.. s_compute2019, "tagsList", "isHostCompatibilityLayerVm", "securityProfile", "osProfile", "licenseType"];
    private static readonly string[] s_compute2021a = [.. s_compute2020, "evictionPolicy", "priority", "userData"];
    private static readonly string[] s_compute2021b = [.. s_compute2021a, "extendedLocation", "virtualMachineScaleSet", "platformSubFaultDomain", "additionalCapabilities", "host", "hostGroup"];
    private static readonly string[] s_compute2025 = [.. s_compute2021b, "physicalZone"];

    public static TheoryData<string, string[]> ComputeFields => new()
    {
        { "2017-04-02", s_compute2017 },
        { "2018-02-01", s_compute2018 },
        { "2019-06-01", s_compute2019 },
        { "2020-09-01", s_compute2020 },
        { "2021-02-01", s_compute2021a },
        { "2021-12-13", s_compute2021b },
        { "2023-07-01", s_compute2021b },
        { "2025-04-07", s_compute2025 },
    };

    [Theory]
    [MemberData(nameof(ComputeFields))]
    public async Task Compute_has_exactly_the_fields_of_the_requested_api_version(string apiVersion, string[] expected)
    {
        await using var emulator = await TestEmulator.StartAsync();

        using var response = await emulator.ImdsAsync($"/metadata/instance/compute?api-version={apiVersion}");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        Assert.Equal(expected.Order(StringComparer.Ordinal), json.RootElement.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData("2020-09-01", "securityProfile", "secureBootEnabled,virtualTpmEnabled")]
    [InlineData("2021-11-01", "securityProfile", "encryptionAtHost,secureBootEnabled,virtualTpmEnabled")]
    [InlineData("2021-12-13", "securityProfile", "encryptionAtHost,secureBootEnabled,securityType,virtualTpmEnabled")]
    [InlineData("2020-07-15", "osProfile", "adminUsername,computerName")]
    [InlineData("2020-10-01", "osProfile", "adminUsername,computerName,disablePasswordAuthentication")]
    [InlineData("2019-06-01", "storageProfile", "dataDisks,imageReference,osDisk")]
    [InlineData("2021-02-01", "storageProfile", "dataDisks,imageReference,osDisk,resourceDisk")]
    [InlineData("2021-12-13", "storageProfile/imageReference", "id,offer,publisher,sku,version")]
    [InlineData("2023-07-01", "storageProfile/imageReference", "communityGalleryImageId,exactVersion,id,offer,publisher,sharedGalleryImageId,sku,version")]
    public async Task Nested_compute_objects_grow_with_the_api_version_too(string apiVersion, string path, string expected)
    {
        await using var emulator = await TestEmulator.StartAsync();

        using var response = await emulator.ImdsAsync($"/metadata/instance/compute/{path}?api-version={apiVersion}");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        Assert.Equal(expected, string.Join(',', json.RootElement.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal)));
    }

    [Fact]
    public async Task The_vm_whose_source_address_matches_the_caller_answers()
    {
        var scenario = TestEmulator.DefaultScenario();
        scenario = scenario with { Vms = [scenario.Vms[0] with { SourceAddress = "169.254.1.2" }, scenario.Vms[1] with { SourceAddress = "127.0.0.1" }] };
        await using var emulator = await TestEmulator.StartAsync(scenario);

        using var response = await emulator.ImdsAsync("/metadata/instance/compute/name?api-version=2021-02-01&format=text");

        Assert.Equal("vm-db", await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Real_curl_with_metadata_header_gets_the_instance_document()
    {
        var curl = Requires.Tool("curl");
        await using var emulator = await TestEmulator.StartAsync();

        var (status, body) = await CurlAsync(curl, "-H", "Metadata:true", new Uri(emulator.Host.Imds, Latest).ToString());

        Assert.Equal("200", status);
        using var json = JsonDocument.Parse(body);
        Assert.Equal("azureuser", json.RootElement.GetProperty("compute").GetProperty("osProfile").GetProperty("adminUsername").GetString());
        Assert.Equal(TestEmulator.WebKey, json.RootElement.GetProperty("compute").GetProperty("publicKeys")[0].GetProperty("keyData").GetString());
    }

    [Fact]
    public async Task Real_curl_without_metadata_header_gets_400()
    {
        var curl = Requires.Tool("curl");
        await using var emulator = await TestEmulator.StartAsync();

        var (status, body) = await CurlAsync(curl, new Uri(emulator.Host.Imds, Latest).ToString());

        Assert.Equal("400", status);
        Assert.Contains("Required metadata header not specified", body, StringComparison.Ordinal);
    }

    /// <summary>Runs curl and returns the HTTP status and body (status is the last line, from -w).</summary>
    internal static async Task<(string Status, string Body)> CurlAsync(string curl, params string[] arguments)
    {
        var start = new ProcessStartInfo(curl) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[] { "-sS", "--noproxy", "*", "--max-time", "30", "-w", "\n%{http_code}" }.Concat(arguments))
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = await process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        await process.WaitForExitAsync(TestContext.Current.CancellationToken);
        var split = output.LastIndexOf('\n');
        return (output[(split + 1)..], output[..split]);
    }
}
