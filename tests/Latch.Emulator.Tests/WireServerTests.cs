using System.Net;
using System.Security;
using System.Text;
using System.Text.Json;
using System.Xml;
using System.Xml.Linq;
using Latch.Emulator.State;

namespace Latch.Emulator.Tests;

public sealed class WireServerTests
{
    /// <summary>The body waagent's _build_health_report() produces: no whitespace, description escaped like saxutils.escape.</summary>
    internal static string WaagentHealthXml(string incarnation, string containerId, string instanceId, string state, string? subStatus = null, string? description = null)
    {
        var details = subStatus is null
            ? ""
            : $"<Details><SubStatus>{SecurityElement.Escape(subStatus)}</SubStatus><Description>{SecurityElement.Escape(description ?? "")}</Description></Details>";
        return "<?xml version=\"1.0\" encoding=\"utf-8\"?><Health xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\">"
            + $"<GoalStateIncarnation>{incarnation}</GoalStateIncarnation><Container><ContainerId>{containerId}</ContainerId><RoleInstanceList><Role>"
            + $"<InstanceId>{instanceId}</InstanceId><Health><State>{state}</State>{details}</Health></Role></RoleInstanceList></Container></Health>";
    }

    internal static XDocument ParseHardened(string xml)
    {
        using var reader = XmlReader.Create(new StringReader(xml), new XmlReaderSettings { DtdProcessing = DtdProcessing.Prohibit, XmlResolver = null });
        return XDocument.Load(reader);
    }

    private static async Task<XDocument> GetGoalStateAsync(TestEmulator emulator)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(emulator.Host.WireServer, "/machine/?comp=goalstate"));
        request.Headers.Add("x-ms-agent-name", "WALinuxAgent");
        request.Headers.Add("x-ms-version", "2012-11-30");
        request.Headers.ConnectionClose = true;
        using var response = await emulator.Http.SendAsync(request, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return ParseHardened(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
    }

    private static string Text(XDocument document, string name) => document.Descendants(name).Single().Value;

    [Fact]
    public async Task Versions_prefer_the_protocol_waagent_speaks()
    {
        await using var emulator = await TestEmulator.StartAsync();

        var xml = ParseHardened(await emulator.Http.GetStringAsync(new Uri(emulator.Host.WireServer, "/?comp=versions"), TestContext.Current.CancellationToken));

        Assert.Equal("2012-11-30", xml.Root!.Element("Preferred")!.Element("Version")!.Value);
        Assert.Contains("2012-11-30", xml.Root.Element("Supported")!.Elements("Version").Select(v => v.Value));
    }

    [Fact]
    public async Task Goal_state_without_x_ms_version_is_rejected()
    {
        await using var emulator = await TestEmulator.StartAsync();

        using var response = await emulator.Http.GetAsync(new Uri(emulator.Host.WireServer, "/machine/?comp=goalstate"), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = ParseHardened(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        Assert.Equal("MissingRequiredHeader", error.Root!.Element("Code")!.Value);
    }

    [Fact]
    public async Task Goal_state_to_health_round_trip_records_waagent_reports()
    {
        await using var emulator = await TestEmulator.StartAsync();

        var goal = await GetGoalStateAsync(emulator);
        var incarnation = Text(goal, "Incarnation");
        var containerId = Text(goal, "ContainerId");
        var instanceId = goal.Descendants("RoleInstance").Single().Element("InstanceId")!.Value;
        Assert.Equal("Started", goal.Descendants("RoleInstance").Single().Element("State")!.Value);
        foreach (var config in new[] { "HostingEnvironmentConfig", "SharedConfig", "ExtensionsConfig", "FullConfig" })
        {
            var url = new Uri(Text(goal, config));
            Assert.Equal(emulator.Host.WireServer.Authority, url.Authority);
            var document = ParseHardened(await emulator.Http.GetStringAsync(url, TestContext.Current.CancellationToken));
            Assert.NotNull(document.Root);
        }

        var hosting = ParseHardened(await emulator.Http.GetStringAsync(new Uri(Text(goal, "HostingEnvironmentConfig")), TestContext.Current.CancellationToken));
        Assert.Equal(instanceId, hosting.Root!.Element("Incarnation")!.Attribute("instance")!.Value);
        Assert.Equal("vm-web", hosting.Root.Element("Role")!.Attribute("name")!.Value);
        Assert.NotNull(hosting.Root.Element("Deployment")!.Attribute("name"));

        using (var starting = await emulator.PostXmlAsync("/machine?comp=health", WaagentHealthXml(incarnation, containerId, instanceId, "NotReady", "Provisioning", "Starting")))
        {
            Assert.Equal(HttpStatusCode.OK, starting.StatusCode);
        }

        using (var ready = await emulator.PostXmlAsync("/machine?comp=health", WaagentHealthXml(incarnation, containerId, instanceId, "Ready")))
        {
            Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        }

        var reports = emulator.Host.State.GetVm("vm-web").HealthReports;
        Assert.Equal(2, reports.Count);
        Assert.Equal(("NotReady", "Provisioning", "Starting"), (reports[0].State, reports[0].SubStatus, reports[0].Description));
        Assert.Equal(("Ready", null, "1"), (reports[1].State, reports[1].SubStatus, reports[1].Incarnation));
        Assert.Equal("WALinuxAgent", reports[1].AgentName);
        Assert.All(reports, r => Assert.Equal(HealthReportKind.Xml, r.Kind));

        using var listed = await emulator.ControlAsync(HttpMethod.Get, "/vms/vm-web/health-reports");
        using var json = JsonDocument.Parse(await listed.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        Assert.Equal(["NotReady", "Ready"], json.RootElement.EnumerateArray().Select(r => r.GetProperty("state").GetString()));
    }

    [Fact]
    public async Task Azure_init_json_health_lands_in_the_same_history()
    {
        await using var emulator = await TestEmulator.StartAsync();
        var vm = emulator.Host.State.GetVm("vm-web");
        using (var xml = await emulator.PostXmlAsync("/machine?comp=health", WaagentHealthXml("1", vm.ContainerId, vm.InstanceId, "NotReady", "Provisioning", "Starting")))
        {
            Assert.Equal(HttpStatusCode.OK, xml.StatusCode);
        }

        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(emulator.Host.WireServer, "/provisioning/health"))
        {
            Content = new StringContent("{\"state\":\"NotReady\",\"details\":{\"subStatus\":\"ProvisioningFailed\",\"description\":\"result=error|reason=no user|documentation_url=https://aka.ms/linuxprovisioningerror\"}}", Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("x-ms-guest-agent-name", "azure-init v0.1.1");
        using var response = await emulator.Http.SendAsync(request, TestContext.Current.CancellationToken);
        using var ready = await emulator.Http.PostAsync(new Uri(emulator.Host.WireServer, "/provisioning/health"), new StringContent("{\"state\":\"Ready\"}", Encoding.UTF8, "application/json"), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        var reports = vm.HealthReports;
        Assert.Equal([HealthReportKind.Xml, HealthReportKind.Json, HealthReportKind.Json], reports.Select(r => r.Kind));
        Assert.Equal("ProvisioningFailed", reports[1].SubStatus);
        Assert.Equal("azure-init v0.1.1", reports[1].AgentName);
        Assert.StartsWith("result=error|", reports[1].Description, StringComparison.Ordinal);
        Assert.Equal("Ready", reports[2].State);
    }

    [Theory]
    [InlineData("<Health><GoalStateIncarnation>1</GoalStateIncarnation>", "InvalidRequestBody")]
    [InlineData("<?xml version=\"1.0\"?><!DOCTYPE Health [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><Health>&x;</Health>", "InvalidRequestBody")]
    [InlineData("<Status/>", "InvalidRequestBody")]
    public async Task Malformed_health_xml_gets_an_azure_shaped_400(string body, string code)
    {
        await using var emulator = await TestEmulator.StartAsync();

        using var response = await emulator.PostXmlAsync("/machine?comp=health", body);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = ParseHardened(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        Assert.Equal(code, error.Root!.Element("Code")!.Value);
        Assert.Empty(emulator.Host.State.GetVm("vm-web").HealthReports);
    }

    [Fact]
    public async Task Health_for_a_wrong_container_instance_or_state_is_rejected()
    {
        await using var emulator = await TestEmulator.StartAsync();
        var vm = emulator.Host.State.GetVm("vm-web");

        using var wrongContainer = await emulator.PostXmlAsync("/machine?comp=health", WaagentHealthXml("1", "c6d5526c-5ac2-4200-b6e2-56f2b70c5ab2", vm.InstanceId, "Ready"));
        using var wrongInstance = await emulator.PostXmlAsync("/machine?comp=health", WaagentHealthXml("1", vm.ContainerId, "MachineRole_IN_0", "Ready"));
        using var wrongState = await emulator.PostXmlAsync("/machine?comp=health", WaagentHealthXml("1", vm.ContainerId, vm.InstanceId, "Happy"));
        using var badJson = await emulator.Http.PostAsync(new Uri(emulator.Host.WireServer, "/provisioning/health"), new StringContent("{\"state\":", Encoding.UTF8, "application/json"), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.BadRequest, wrongContainer.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, wrongInstance.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, wrongState.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, badJson.StatusCode);
        Assert.Contains("InvalidRoleInstanceId", await wrongInstance.Content.ReadAsStringAsync(TestContext.Current.CancellationToken), StringComparison.Ordinal);
        Assert.Empty(vm.HealthReports);
    }

    [Fact]
    public async Task Long_description_is_cut_like_the_real_wireserver()
    {
        await using var emulator = await TestEmulator.StartAsync();
        var vm = emulator.Host.State.GetVm("vm-web");

        using var response = await emulator.PostXmlAsync("/machine?comp=health", WaagentHealthXml("1", vm.ContainerId, vm.InstanceId, "NotReady", "ProvisioningFailed", new string('x', 5000)));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(VmState.MaxDescriptionLength, vm.HealthReports.Single().Description!.Length);
    }

    [Fact]
    public async Task Incarnation_bumps_on_demand_and_when_keys_change()
    {
        await using var emulator = await TestEmulator.StartAsync();
        Assert.Equal("1", Text(await GetGoalStateAsync(emulator), "Incarnation"));

        using var bump = await emulator.ControlAsync(HttpMethod.Post, "/vms/vm-web/incarnation");
        Assert.Equal(HttpStatusCode.OK, bump.StatusCode);
        Assert.Equal("2", Text(await GetGoalStateAsync(emulator), "Incarnation"));

        using var keys = await emulator.ControlAsync(HttpMethod.Put, "/vms/vm-web/keys", $"{{\"publicKeys\":[{{\"keyData\":\"{TestEmulator.DbKey}\"}}]}}");
        Assert.Equal(HttpStatusCode.OK, keys.StatusCode);
        var goal = await GetGoalStateAsync(emulator);
        Assert.Equal("3", Text(goal, "Incarnation"));
        Assert.EndsWith("incarnation=3", Text(goal, "SharedConfig"), StringComparison.Ordinal);

        using var imds = await emulator.ImdsAsync("/metadata/instance/compute/publicKeys?api-version=2021-02-01");
        using var json = JsonDocument.Parse(await imds.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        var only = Assert.Single(json.RootElement.EnumerateArray().ToArray());
        Assert.Equal(TestEmulator.DbKey, only.GetProperty("keyData").GetString());
        Assert.Equal("/home/azureuser/.ssh/authorized_keys", only.GetProperty("path").GetString());
    }

    [Fact]
    public async Task Role_properties_telemetry_and_status_blob_are_accepted_and_recorded()
    {
        await using var emulator = await TestEmulator.StartAsync();
        var vm = emulator.Host.State.GetVm("vm-web");
        var goal = await GetGoalStateAsync(emulator);
        var extensions = ParseHardened(await emulator.Http.GetStringAsync(new Uri(Text(goal, "ExtensionsConfig")), TestContext.Current.CancellationToken));
        var statusBlob = new Uri(extensions.Descendants("StatusUploadBlob").Single().Value);

        using var properties = await emulator.PostXmlAsync("/machine?comp=roleProperties",
            $"<?xml version=\"1.0\" encoding=\"utf-8\"?><RoleProperties><Container><ContainerId>{vm.ContainerId}</ContainerId><RoleInstances><RoleInstance><Id>{vm.InstanceId}</Id><Properties><Property name=\"CertificateThumbprint\" value=\"ABC\" /></Properties></RoleInstance></RoleInstances></Container></RoleProperties>");
        using var telemetry = await emulator.PostXmlAsync("/machine?comp=telemetrydata",
            "<?xml version=\"1.0\"?><TelemetryData version=\"1.0\"><Provider id=\"69B669B9-4AF8-4C50-BDC4-6006FA76E975\"><Event id=\"1\"><![CDATA[<Param Name=\"Name\" Value=\"WALinuxAgent\" T=\"mt:wstr\" />]]></Event><Event id=\"1\"><![CDATA[]]></Event></Provider></TelemetryData>");
        using var badTelemetry = await emulator.PostXmlAsync("/machine?comp=telemetrydata", "<TelemetryData><Provider>");
        using var status = await emulator.Http.PutAsync(statusBlob, new StringContent("{\"version\":\"1.1\"}", Encoding.UTF8, "application/json"), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.Accepted, properties.StatusCode);
        Assert.Equal("ABC", vm.RoleProperties["CertificateThumbprint"]);
        Assert.Equal(HttpStatusCode.OK, telemetry.StatusCode);
        Assert.Equal(2, vm.TelemetryEventCount);
        Assert.Equal(HttpStatusCode.BadRequest, badTelemetry.StatusCode);
        Assert.Equal(HttpStatusCode.Created, status.StatusCode);
        Assert.Equal(1, vm.StatusUploadCount);
    }
    [Fact]
    public async Task Health_service_observations_from_waagent_are_recorded_per_vm()
    {
        await using var emulator = await TestEmulator.StartAsync();
        var ct = TestContext.Current.CancellationToken;
        // what waagent's HealthService.as_json posts after a HostGAPlugin heartbeat and a failed /versions
        const string body = "{\"Api\": \"reporttargethealth\", \"Version\": \"1.0\", \"Source\": \"WALinuxAgent\", \"Observations\": ["
            + "{\"ObservationName\": \"GuestAgentPluginHeartbeat\", \"IsHealthy\": true, \"Description\": \"\", \"Value\": \"\"}, "
            + "{\"ObservationName\": \"GuestAgentPluginVersions\", \"IsHealthy\": false, \"Description\": \"\", \"Value\": \"[HTTP Failed] 500\"}]}";

        using var posted = await emulator.Http.PostAsync(new Uri(emulator.Host.WireServer, "/HealthService"), new StringContent(body, Encoding.UTF8, "application/json"), ct);
        using var notJson = await emulator.Http.PostAsync(new Uri(emulator.Host.WireServer, "/HealthService"), new StringContent("{\"Api\":", Encoding.UTF8, "application/json"), ct);
        using var otherApi = await emulator.Http.PostAsync(new Uri(emulator.Host.WireServer, "/HealthService"), new StringContent("{\"Api\":\"other\",\"Observations\":[]}", Encoding.UTF8, "application/json"), ct);
        using var badObservation = await emulator.Http.PostAsync(new Uri(emulator.Host.WireServer, "/HealthService"), new StringContent("{\"Api\":\"reporttargethealth\",\"Observations\":[{\"ObservationName\":\"x\",\"IsHealthy\":\"yes\"}]}", Encoding.UTF8, "application/json"), ct);

        Assert.Equal(HttpStatusCode.OK, posted.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, notJson.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, otherApi.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, badObservation.StatusCode);
        var observations = emulator.Host.State.GetVm("vm-web").HealthObservations;
        Assert.Equal(["GuestAgentPluginHeartbeat", "GuestAgentPluginVersions"], observations.Select(o => o.Name));
        Assert.Equal([true, false], observations.Select(o => o.IsHealthy));
        Assert.Equal("[HTTP Failed] 500", observations[1].Value);
        Assert.All(observations, o => Assert.Equal("WALinuxAgent", o.Source));
        Assert.Empty(emulator.Host.State.GetVm("vm-db").HealthObservations);

        using var listed = await emulator.ControlAsync(HttpMethod.Get, "/vms/vm-web/health-observations");
        using var json = JsonDocument.Parse(await listed.Content.ReadAsStringAsync(ct));
        Assert.Equal(["GuestAgentPluginHeartbeat", "GuestAgentPluginVersions"], json.RootElement.EnumerateArray().Select(o => o.GetProperty("name").GetString()));
    }
}
