using System.Text;
using System.Text.Json;
using Latch.Azure.Tests.Infrastructure;

namespace Latch.Azure.Tests;

public sealed class WireServerClientTests
{
    private static readonly CancellationToken Ct = TestContext.Current.CancellationToken;

    private static GoalState SampleGoalState(string incarnation = "1") => new(
        incarnation, "9e2a6f1c-0d4b-4f3e-9a8c-7b6d5e4f3a2b", "4c3b2a19-8f7e-4d6c-b5a4-938271605f4e.latch-vm1", new GoalStateConfiguration(null, null, null, null, null, null));

    [Fact]
    public async Task Checks_the_protocol_version_without_special_headers()
    {
        await using var server = ScriptedServer.Always(ServerAction.Xml(200, Fixtures.Versions));
        using var client = new WireServerClient(TestOptions.WireServer(server.BaseAddress));

        var versions = await client.GetVersionsAsync(Ct);

        Assert.Equal("2012-11-30", versions.Preferred);
        Assert.Contains("2010-12-15", versions.Supported);
        Assert.Equal("/?comp=versions", Assert.Single(server.Requests).Target);
    }

    [Fact]
    public async Task A_wireserver_without_protocol_2012_11_30_is_refused()
    {
        await using var server = ScriptedServer.Always(ServerAction.Xml(200, "<Versions><Preferred><Version>2099-01-01</Version></Preferred><Supported><Version>2010-12-15</Version></Supported></Versions>"));
        using var client = new WireServerClient(TestOptions.WireServer(server.BaseAddress));

        var error = await Assert.ThrowsAsync<AzureRequestException>(() => client.GetVersionsAsync(Ct));

        Assert.Contains("2012-11-30", error.Message, StringComparison.Ordinal);
        Assert.Contains("2099-01-01", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Reads_the_goal_state_with_agent_and_version_headers()
    {
        await using var server = ScriptedServer.Always(ServerAction.Xml(200, Fixtures.GoalState(3)));
        using var client = new WireServerClient(TestOptions.WireServer(server.BaseAddress));

        var goalState = await client.GetGoalStateAsync(Ct);

        var request = Assert.Single(server.Requests);
        Assert.Equal("/machine/?comp=goalstate", request.Target);
        Assert.Equal("LatchTest", request.Header("x-ms-agent-name"));
        Assert.Equal("2012-11-30", request.Header("x-ms-version"));
        Assert.Equal("3", goalState.Incarnation);
        Assert.Equal("9e2a6f1c-0d4b-4f3e-9a8c-7b6d5e4f3a2b", goalState.ContainerId);
        Assert.Equal("4c3b2a19-8f7e-4d6c-b5a4-938271605f4e.latch-vm1", goalState.RoleInstanceId);
        Assert.Equal("http://168.63.129.16:80/machine/x?comp=certificates&incarnation=1", goalState.Configuration.Certificates);
        Assert.Equal("4c3b2a19.0.4c3b2a19.latch-vm1.1.xml", goalState.Configuration.ConfigName);
    }

    [Fact]
    public void A_goal_state_without_a_role_instance_is_an_error_naming_it()
    {
        var error = Assert.Throws<AzureFormatException>(() => WireServerClient.ParseGoalState(Encoding.UTF8.GetBytes(Fixtures.GoalState(withRoleInstance: false))));

        Assert.Contains("InstanceId", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_goal_state_without_a_container_id_is_an_error_naming_it()
    {
        var xml = Fixtures.GoalState().Replace("<ContainerId>9e2a6f1c-0d4b-4f3e-9a8c-7b6d5e4f3a2b</ContainerId>", "", StringComparison.Ordinal);

        var error = Assert.Throws<AzureFormatException>(() => WireServerClient.ParseGoalState(Encoding.UTF8.GetBytes(xml)));

        Assert.Contains("ContainerId", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_goal_state_with_a_dtd_is_refused()
    {
        var xml = "<?xml version=\"1.0\"?><!DOCTYPE GoalState [<!ENTITY x SYSTEM \"file:///etc/hostname\">]>" + Fixtures.GoalState()[(Fixtures.GoalState().IndexOf("?>", StringComparison.Ordinal) + 2)..];

        var error = Assert.Throws<AzureFormatException>(() => WireServerClient.ParseGoalState(Encoding.UTF8.GetBytes(xml)));

        Assert.Contains("DTD", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Goal_state_410_and_5xx_are_retried()
    {
        await using var server = ScriptedServer.Sequence(ServerAction.Status(410), ServerAction.Status(500), ServerAction.Xml(200, "<GoalState><Incarn"), ServerAction.Xml(200, Fixtures.GoalState(2)));
        using var client = new WireServerClient(TestOptions.WireServer(server.BaseAddress));

        var goalState = await client.GetGoalStateAsync(Ct);

        Assert.Equal("2", goalState.Incarnation);
        Assert.Equal(4, server.Requests.Count);
    }

    [Fact]
    public async Task Reports_ready_with_the_exact_waagent_body()
    {
        await using var server = ScriptedServer.Always(ServerAction.Status(200));
        using var client = new WireServerClient(TestOptions.WireServer(server.BaseAddress));

        await client.ReportHealthAsync(SampleGoalState("5"), HealthReport.Ready, Ct);

        var request = Assert.Single(server.Requests);
        Assert.Equal("POST", request.Method);
        Assert.Equal("/machine?comp=health", request.Target);
        Assert.Equal("text/xml; charset=utf-8", request.Header("Content-Type"));
        Assert.Equal("LatchTest", request.Header("x-ms-agent-name"));
        Assert.Equal("2012-11-30", request.Header("x-ms-version"));
        Assert.Equal(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><Health xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\"><GoalStateIncarnation>5</GoalStateIncarnation><Container><ContainerId>9e2a6f1c-0d4b-4f3e-9a8c-7b6d5e4f3a2b</ContainerId><RoleInstanceList><Role><InstanceId>4c3b2a19-8f7e-4d6c-b5a4-938271605f4e.latch-vm1</InstanceId><Health><State>Ready</State></Health></Role></RoleInstanceList></Container></Health>",
            request.BodyText);
    }

    [Fact]
    public void Not_ready_carries_escaped_details()
    {
        var body = WireServerClient.BuildHealthReport(SampleGoalState(), HealthReport.NotReady("ProvisioningFailed", "user <admin> & key \"x\" failed"));

        Assert.Contains(
            "<Health><State>NotReady</State><Details><SubStatus>ProvisioningFailed</SubStatus><Description>user &lt;admin&gt; &amp; key \"x\" failed</Description></Details></Health>",
            body,
            StringComparison.Ordinal);
        Assert.Equal("ProvisioningFailed", System.Xml.Linq.XDocument.Parse(body).Descendants("SubStatus").Single().Value);
    }

    [Fact]
    public void Long_descriptions_are_cut_to_3686_characters_before_escaping()
    {
        var description = new string('&', 5000);

        var body = WireServerClient.BuildHealthReport(SampleGoalState(), HealthReport.NotReady("Provisioning", description));

        var parsed = System.Xml.Linq.XDocument.Parse(body).Descendants("Description").Single().Value;
        Assert.Equal(new string('&', 3686), parsed);
    }

    [Fact]
    public void Cutting_never_splits_a_surrogate_pair()
    {
        var description = new string('a', 3685) + "\U0001F600tail";

        var cut = WireServerClient.Cut(description);

        Assert.Equal(3685, cut.Length);
        Assert.False(char.IsHighSurrogate(cut[^1]));
    }

    [Fact]
    public async Task A_410_on_health_refetches_the_goal_state_and_reports_for_the_new_incarnation()
    {
        await using var server = new ScriptedServer((request, _) =>
            request.Target.StartsWith("/machine/?comp=goalstate", StringComparison.Ordinal)
                ? ServerAction.Xml(200, Fixtures.GoalState(8))
                : request.BodyText.Contains("<GoalStateIncarnation>8<", StringComparison.Ordinal)
                    ? ServerAction.Status(200)
                    : ServerAction.Status(410));
        var logger = new RecordingLogger();
        using var client = new WireServerClient(TestOptions.WireServer(server.BaseAddress, logger: logger));

        var reported = await client.ReportHealthAsync(SampleGoalState("7"), HealthReport.NotReady("Provisioning", "Starting"), Ct);

        Assert.Equal("8", reported.Incarnation);
        Assert.Equal(["POST /machine?comp=health", "GET /machine/?comp=goalstate", "POST /machine?comp=health"], server.Requests.Select(r => $"{r.Method} {r.Target}"));
        Assert.Contains(logger.Lines, l => l.Contains("incarnation 7", StringComparison.Ordinal) && l.Contains("incarnation 8", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_goal_state_that_keeps_moving_ends_in_a_bounded_clear_error()
    {
        await using var server = new ScriptedServer((request, n) =>
            request.Method == "GET" ? ServerAction.Xml(200, Fixtures.GoalState(n)) : ServerAction.Status(410));
        using var client = new WireServerClient(TestOptions.WireServer(server.BaseAddress));

        var error = await Assert.ThrowsAsync<AzureRequestException>(() => client.ReportHealthAsync(SampleGoalState(), HealthReport.Ready, Ct));

        Assert.Equal(410, error.Status);
        Assert.Contains("goal state", error.Message, StringComparison.Ordinal);
        Assert.Equal(6, server.Requests.Count(r => r.Method == "POST"));
    }

    [Fact]
    public async Task Health_is_not_retried_on_400()
    {
        await using var server = ScriptedServer.Always(ServerAction.Status(400));
        using var client = new WireServerClient(TestOptions.WireServer(server.BaseAddress));

        var error = await Assert.ThrowsAsync<AzureRequestException>(() => client.ReportHealthAsync(SampleGoalState(), HealthReport.Ready, Ct));

        Assert.Equal(400, error.Status);
        Assert.Single(server.Requests);
    }

    [Fact]
    public async Task Reports_provisioning_health_as_json()
    {
        await using var server = ScriptedServer.Sequence(ServerAction.Status(503), ServerAction.Status(200));
        using var client = new WireServerClient(TestOptions.WireServer(server.BaseAddress));

        await client.ReportProvisioningHealthJsonAsync(HealthReport.NotReady("ProvisioningFailed", "result=error|reason=no keys"), Ct);
        await client.ReportProvisioningHealthJsonAsync(HealthReport.Ready, Ct);

        var requests = server.Requests;
        Assert.Equal(3, requests.Count);
        Assert.All(requests, r => Assert.Equal("/provisioning/health", r.Target));
        Assert.Equal("application/json", requests[0].Header("Content-Type"));
        Assert.Equal("LatchTest", requests[0].Header("x-ms-guest-agent-name"));
        using var notReady = JsonDocument.Parse(requests[1].Body);
        Assert.Equal("NotReady", notReady.RootElement.GetProperty("state").GetString());
        Assert.Equal("ProvisioningFailed", notReady.RootElement.GetProperty("details").GetProperty("subStatus").GetString());
        Assert.Equal("result=error|reason=no keys", notReady.RootElement.GetProperty("details").GetProperty("description").GetString());
        Assert.Equal("{\"state\":\"Ready\"}", requests[2].BodyText);
    }

    [Fact]
    public async Task Reports_the_host_key_thumbprint_as_a_role_property_like_waagent()
    {
        await using var server = ScriptedServer.Always(ServerAction.Status(202));
        using var client = new WireServerClient(TestOptions.WireServer(server.BaseAddress));

        await client.ReportRolePropertiesAsync(SampleGoalState(), [new("CertificateThumbprint", "SHA256abc\"<&")], Ct);

        var request = Assert.Single(server.Requests);
        Assert.Equal("POST", request.Method);
        Assert.Equal("/machine?comp=roleProperties", request.Target);
        Assert.Equal("2012-11-30", request.Header("x-ms-version"));
        Assert.Equal(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><RoleProperties><Container><ContainerId>9e2a6f1c-0d4b-4f3e-9a8c-7b6d5e4f3a2b</ContainerId><RoleInstances><RoleInstance><Id>4c3b2a19-8f7e-4d6c-b5a4-938271605f4e.latch-vm1</Id><Properties><Property name=\"CertificateThumbprint\" value=\"SHA256abc&quot;&lt;&amp;\" /></Properties></RoleInstance></RoleInstances></Container></RoleProperties>",
            request.BodyText);
        using var parsed = System.Xml.XmlReader.Create(new StringReader(request.BodyText));
        while (parsed.Read())
        {
        }
    }
}
