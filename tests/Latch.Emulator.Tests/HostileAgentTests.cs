using System.Net;
using System.Text.Json;

namespace Latch.Emulator.Tests;

public sealed class HostileAgentTests
{
    private static async Task<JsonElement> StatusAsync(TestEmulator emulator)
    {
        using var response = await emulator.ControlAsync(HttpMethod.Get, "/vms/vm-web/hostile-agent");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken)).RootElement.Clone();
    }

    [Fact]
    public async Task Hostile_agent_overwrites_host_authorized_keys_with_one_key_and_stops_at_its_bound()
    {
        var directory = Directory.CreateTempSubdirectory("latch-hostile-");
        try
        {
            var keysFile = Path.Combine(directory.FullName, "authorized_keys");
            await File.WriteAllTextAsync(keysFile, TestEmulator.WebKey + "\n" + TestEmulator.OperatorKey + "\n", TestContext.Current.CancellationToken);
            File.SetUnixFileMode(keysFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            await using var emulator = await TestEmulator.StartAsync(TestEmulator.DefaultScenario(hostKeysPath: keysFile));

            using var started = await emulator.ControlAsync(HttpMethod.Post, "/vms/vm-web/hostile-agent", $"{{\"intervalMs\":20,\"key\":\"{TestEmulator.DbKey}\",\"maxRewrites\":6}}");
            Assert.Equal(HttpStatusCode.Created, started.StatusCode);
            var agent = emulator.Host.State.HostileAgents.Get("vm-web")!;
            await TestEmulator.EventuallyAsync(() => !agent.Status.Running);

            Assert.Equal(6, agent.Rewrites);
            Assert.Equal(TestEmulator.DbKey + "\n", await File.ReadAllTextAsync(keysFile, TestContext.Current.CancellationToken));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(keysFile));
            Assert.Equal(["authorized_keys"], directory.GetFiles().Select(f => f.Name));   // no temporary file left behind
            var status = await StatusAsync(emulator);
            Assert.Equal(6, status.GetProperty("rewrites").GetInt32());
            Assert.Equal("host", status.GetProperty("mode").GetString());
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Hostile_agent_stops_when_asked()
    {
        var directory = Directory.CreateTempSubdirectory("latch-hostile-");
        try
        {
            var keysFile = Path.Combine(directory.FullName, "authorized_keys");
            await File.WriteAllTextAsync(keysFile, TestEmulator.WebKey + "\n", TestContext.Current.CancellationToken);
            await using var emulator = await TestEmulator.StartAsync(TestEmulator.DefaultScenario(hostKeysPath: keysFile));
            using var started = await emulator.ControlAsync(HttpMethod.Post, "/vms/vm-web/hostile-agent", $"{{\"intervalMs\":10,\"key\":\"{TestEmulator.DbKey}\"}}");
            var agent = emulator.Host.State.HostileAgents.Get("vm-web")!;
            await agent.WaitForRewritesAsync(2, TestContext.Current.CancellationToken);

            using var stopped = await emulator.ControlAsync(HttpMethod.Delete, "/vms/vm-web/hostile-agent");

            Assert.Equal(HttpStatusCode.OK, stopped.StatusCode);
            Assert.False(agent.Status.Running);
            var rewrites = agent.Rewrites;
            Assert.InRange(rewrites, 2, 9_999);
            File.Delete(keysFile);
            await Task.Delay(100, TestContext.Current.CancellationToken);   // a stopped agent must not write again
            Assert.False(File.Exists(keysFile));
            Assert.Equal(rewrites, agent.Rewrites);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Hostile_agent_runs_a_bounded_loop_through_the_vm_exec_prefix()
    {
        Latch.Testing.Requires.Tool("sh");
        var directory = Directory.CreateTempSubdirectory("latch-hostile-");
        try
        {
            var ssh = Directory.CreateDirectory(Path.Combine(directory.FullName, ".ssh"));
            var keysFile = Path.Combine(ssh.FullName, "authorized_keys");
            await File.WriteAllTextAsync(keysFile, TestEmulator.WebKey + "\n", TestContext.Current.CancellationToken);
            var scenario = TestEmulator.DefaultScenario(exec: ["/usr/bin/env"]);
            scenario = scenario with { Vms = [scenario.Vms[0] with { PublicKeys = [new(TestEmulator.WebKey, keysFile)] }, scenario.Vms[1]] };
            await using var emulator = await TestEmulator.StartAsync(scenario);

            using var started = await emulator.ControlAsync(HttpMethod.Post, "/vms/vm-web/hostile-agent", $"{{\"intervalMs\":10,\"key\":\"{TestEmulator.OperatorKey}\",\"maxRewrites\":3}}");
            Assert.Equal(HttpStatusCode.Created, started.StatusCode);
            var agent = emulator.Host.State.HostileAgents.Get("vm-web")!;
            await TestEmulator.EventuallyAsync(() => !agent.Status.Running);

            Assert.Equal(3, agent.Rewrites);
            Assert.Equal("exec", agent.Status.Mode);
            Assert.Equal(TestEmulator.OperatorKey + "\n", await File.ReadAllTextAsync(keysFile, TestContext.Current.CancellationToken));
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Hostile_agent_needs_somewhere_to_write_and_a_real_key()
    {
        await using var emulator = await TestEmulator.StartAsync();

        using var nowhere = await emulator.ControlAsync(HttpMethod.Post, "/vms/vm-web/hostile-agent", $"{{\"intervalMs\":50,\"key\":\"{TestEmulator.DbKey}\"}}");
        using var badKey = await emulator.ControlAsync(HttpMethod.Post, "/vms/vm-web/hostile-agent", "{\"intervalMs\":50,\"key\":\"not a key\"}");
        using var noVm = await emulator.ControlAsync(HttpMethod.Post, "/vms/vm-nope/hostile-agent", $"{{\"intervalMs\":50,\"key\":\"{TestEmulator.DbKey}\"}}");

        Assert.Equal(HttpStatusCode.Conflict, nowhere.StatusCode);
        Assert.Contains("authorized_keys_host_path", await nowhere.Content.ReadAsStringAsync(TestContext.Current.CancellationToken), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, badKey.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, noVm.StatusCode);
    }
}
