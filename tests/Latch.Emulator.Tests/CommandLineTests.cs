using System.Diagnostics;
using System.Net;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace Latch.Emulator.Tests;

public sealed partial class CommandLineTests
{
    private static readonly string s_program = Path.Combine(AppContext.BaseDirectory, "latch-emulator");

    private static Process Start(params string[] arguments)
    {
        var start = new ProcessStartInfo(s_program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = ScenarioLoaderTests.RepositoryRoot(),
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        return Process.Start(start) ?? throw new InvalidOperationException("could not start " + s_program);
    }

    private static async Task<(int Exit, string Stdout, string Stderr)> RunToEndAsync(params string[] arguments)
    {
        using var process = Start(arguments);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        deadline.CancelAfter(TimeSpan.FromSeconds(60));
        try
        {
            var stdout = process.StandardOutput.ReadToEndAsync(deadline.Token);
            var stderr = process.StandardError.ReadToEndAsync(deadline.Token);
            await process.WaitForExitAsync(deadline.Token);
            return (process.ExitCode, await stdout, await stderr);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
    }

    [Theory]
    [InlineData(15)] // SIGTERM
    [InlineData(2)]  // SIGINT
    public async Task Started_as_a_process_it_prints_endpoints_then_ready_and_exits_0_on_a_signal(int signal)
    {
        using var process = Start("--scenario", "examples/demo.toml", "--fault", "imds:status=503,count=1");
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        deadline.CancelAfter(TimeSpan.FromSeconds(60));
        var stderr = process.StandardError.ReadToEndAsync(deadline.Token);
        try
        {
            var endpoints = new Dictionary<string, string>();
            while (await process.StandardOutput.ReadLineAsync(deadline.Token) is { } line && line != "ready")
            {
                var space = line.IndexOf(' ', StringComparison.Ordinal);
                endpoints[line[..space]] = line[(space + 1)..];
            }

            Assert.Equal(["imds", "wireserver", "hostgaplugin", "keyvault", "arm", "control", "ca", "state"], endpoints.Keys);
            Assert.All(["imds", "wireserver", "hostgaplugin", "control"], k => Assert.StartsWith("http://127.0.0.1:", endpoints[k], StringComparison.Ordinal));
            Assert.All(["keyvault", "arm"], k => Assert.StartsWith("https://127.0.0.1:", endpoints[k], StringComparison.Ordinal));
            Assert.StartsWith("-----BEGIN CERTIFICATE-----", await File.ReadAllTextAsync(endpoints["ca"], deadline.Token), StringComparison.Ordinal);

            using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false });
            using var first = await http.SendAsync(new HttpRequestMessage(HttpMethod.Get, endpoints["imds"] + "metadata/instance?api-version=2021-02-01") { Headers = { { "Metadata", "true" } } }, deadline.Token);
            using var second = await http.SendAsync(new HttpRequestMessage(HttpMethod.Get, endpoints["imds"] + "metadata/instance?api-version=2021-02-01") { Headers = { { "Metadata", "true" } } }, deadline.Token);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, first.StatusCode);   // the --fault flag
            Assert.Equal(HttpStatusCode.OK, second.StatusCode);
            var vms = await http.GetStringAsync(endpoints["control"] + "vms", deadline.Token);
            Assert.Contains("vm-db", vms, StringComparison.Ordinal);

            Assert.Equal(0, kill(process.Id, signal));
            await process.WaitForExitAsync(deadline.Token);

            Assert.Equal(0, process.ExitCode);
            var log = await stderr;
            Assert.Contains("imds GET /metadata/instance?api-version=2021-02-01 -> 200", log, StringComparison.Ordinal);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
    }

    [Fact]
    public async Task Help_documents_every_flag_and_the_control_api()
    {
        var (exit, stdout, _) = await RunToEndAsync("--help");

        Assert.Equal(0, exit);
        foreach (var flag in new[] { "--scenario", "--imds", "--wireserver", "--hostgaplugin", "--keyvault", "--arm", "--control", "--state-dir", "--run-command-latency", "--fault", "--write-media" })
        {
            Assert.Contains(flag, stdout, StringComparison.Ordinal);
        }

        Assert.Contains("POST   /vms/{name}/hostile-agent", stdout, StringComparison.Ordinal);
        Assert.Contains("DELETE /faults", stdout, StringComparison.Ordinal);
        Assert.Contains("GET    /vms/{name}/health-reports", stdout, StringComparison.Ordinal);
        Assert.Contains("GET    /requests", stdout, StringComparison.Ordinal);
        Assert.Contains("POST   /faults", stdout, StringComparison.Ordinal);
        Assert.Contains("--hostile-agent VM,interval=MS,key=PUBKEY_FILE", stdout, StringComparison.Ordinal);
        Assert.All(Enum.GetNames<Faults.FaultKind>(), kind => Assert.Contains(kind.ToLowerInvariant() + (kind is "Status" or "Latency" or "Throttle" or "Limit" ? "=" : ""), stdout, StringComparison.Ordinal));
        Assert.All(Faults.FaultRule.Groups, group => Assert.Contains(group, stdout, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Each_listener_flag_binds_where_told_and_state_dir_holds_the_ca()
    {
        var state = Directory.CreateTempSubdirectory("latch-emu-cli-").FullName;
        // distinct loopback addresses with port 0: each flag provably lands on its own listener, with no port race
        var addresses = new Dictionary<string, string>
        {
            ["imds"] = "127.0.0.2", ["wireserver"] = "127.0.0.3", ["hostgaplugin"] = "127.0.0.4",
            ["keyvault"] = "127.0.0.5", ["arm"] = "127.0.0.6", ["control"] = "127.0.0.7",
        };
        using var process = Start([
            "--scenario", "examples/demo.toml", "--state-dir", state, "--run-command-latency", "0",
            .. addresses.SelectMany(a => new[] { "--" + a.Key, a.Value + ":0" })]);
        try
        {
            var printed = await ReadUntilReadyAsync(process);

            foreach (var (name, address) in addresses)
            {
                Assert.Equal(address, new Uri(printed[name]).Host);
            }

            Assert.Equal(state, printed["state"]);
            Assert.Equal(state, Path.GetDirectoryName(printed["ca"]));
            using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false });
            using var imds = await http.SendAsync(new HttpRequestMessage(HttpMethod.Get, printed["imds"] + "metadata/instance?api-version=2021-02-01") { Headers = { { "Metadata", "true" } } }, TestContext.Current.CancellationToken);
            Assert.Equal(HttpStatusCode.OK, imds.StatusCode);
            using var versions = await http.GetAsync(printed["wireserver"] + "?comp=versions", TestContext.Current.CancellationToken);
            Assert.Equal(HttpStatusCode.OK, versions.StatusCode);
            var endpoints = await http.GetStringAsync(printed["control"] + "endpoints", TestContext.Current.CancellationToken);
            Assert.Contains(printed["keyvault"].TrimEnd('/'), endpoints, StringComparison.Ordinal);
            Assert.Contains(printed["arm"].TrimEnd('/'), endpoints, StringComparison.Ordinal);
        }
        finally
        {
            await StopAsync(process);
            Directory.Delete(state, recursive: true);
        }
    }

    [Fact]
    public async Task Hostile_agent_flag_overwrites_the_vms_authorized_keys_from_the_start()
    {
        var directory = Directory.CreateTempSubdirectory("latch-emu-hostile-").FullName;
        var keys = Path.Combine(directory, "authorized_keys");
        var hostile = Path.Combine(directory, "hostile.pub");
        var scenario = Path.Combine(directory, "scenario.toml");
        await File.WriteAllTextAsync(keys, TestEmulator.WebKey + "\n", TestContext.Current.CancellationToken);
        await File.WriteAllTextAsync(hostile, TestEmulator.DbKey + "\n", TestContext.Current.CancellationToken);
        await File.WriteAllTextAsync(scenario, $"""
            [[vms]]
            name = "vm-a"
            authorized_keys_host_path = "{keys}"
            """, TestContext.Current.CancellationToken);
        using var process = Start("--scenario", scenario, "--hostile-agent", $"vm-a,interval=20,key={hostile},max=3");
        try
        {
            var printed = await ReadUntilReadyAsync(process);
            Assert.Equal("vm-a " + keys, printed["hostile-agent"]);

            using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false });
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
            deadline.CancelAfter(TimeSpan.FromSeconds(30));
            JsonElement status;
            do
            {
                await Task.Delay(20, deadline.Token);
                status = JsonDocument.Parse(await http.GetStringAsync(printed["control"] + "vms/vm-a/hostile-agent", deadline.Token)).RootElement.Clone();
            }
            while (status.GetProperty("running").GetBoolean());

            Assert.Equal(3, status.GetProperty("rewrites").GetInt32());
            Assert.Equal(TestEmulator.DbKey + "\n", await File.ReadAllTextAsync(keys, TestContext.Current.CancellationToken));
        }
        finally
        {
            await StopAsync(process);
            Directory.Delete(directory, recursive: true);
        }
    }

    [Theory]
    [InlineData("vm-nope,interval=20,key=/dev/null", "no such VM")]
    [InlineData("vm-web,key=/dev/null", "interval=MS is missing")]
    [InlineData("vm-web,interval=20", "key=FILE is missing")]
    [InlineData("vm-web,interval=20,key=/nonexistent/hostile.pub", "cannot read key file")]
    [InlineData("vm-web,interval=20,key=/dev/null", "one OpenSSH public key line")]
    [InlineData("vm-web,interval=20,speed=9,key=/dev/null", "unknown option 'speed'")]
    public async Task Bad_hostile_agent_flag_is_a_usage_error_naming_what_is_wrong(string spec, string message)
    {
        var (exit, stdout, stderr) = await RunToEndAsync("--scenario", "examples/demo.toml", "--hostile-agent", spec);

        Assert.Equal(2, exit);
        Assert.DoesNotContain("ready", stdout, StringComparison.Ordinal);
        Assert.Contains(message, stderr, StringComparison.Ordinal);
    }

    /// <summary>Reads the ready summary: NAME VALUE lines until "ready".</summary>
    private static async Task<Dictionary<string, string>> ReadUntilReadyAsync(Process process)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        deadline.CancelAfter(TimeSpan.FromSeconds(60));
        var printed = new Dictionary<string, string>();
        while (await process.StandardOutput.ReadLineAsync(deadline.Token) is { } line && line != "ready")
        {
            var space = line.IndexOf(' ', StringComparison.Ordinal);
            printed[line[..space]] = line[(space + 1)..];
        }

        if (printed.Count == 0)
        {
            Assert.Fail("latch-emulator printed nothing before exiting: " + await process.StandardError.ReadToEndAsync(deadline.Token));
        }

        return printed;
    }

    private static async Task StopAsync(Process process)
    {
        if (process.HasExited)
        {
            return;
        }

        _ = kill(process.Id, 15);
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
        }
    }

    [Fact]
    public async Task Missing_scenario_is_a_usage_error()
    {
        var (exit, _, stderr) = await RunToEndAsync("--imds", "127.0.0.1:0");

        Assert.Equal(2, exit);
        Assert.Contains("--scenario FILE is required", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bad_scenario_file_exits_2_naming_key_and_line()
    {
        var file = Path.Combine(Path.GetTempPath(), $"latch-bad-{Guid.NewGuid():N}.toml");
        await File.WriteAllTextAsync(file, "[[vms]]\nname = \"vm-a\"\nvm_size = 3\n", TestContext.Current.CancellationToken);
        try
        {
            var (exit, stdout, stderr) = await RunToEndAsync("--scenario", file);

            Assert.Equal(2, exit);
            Assert.Empty(stdout);
            Assert.Contains("vms[0].vm_size", stderr, StringComparison.Ordinal);
            Assert.Contains("line 3", stderr, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task Bad_fault_flag_is_a_usage_error()
    {
        var (exit, _, stderr) = await RunToEndAsync("--scenario", "examples/demo.toml", "--fault", "imds:teapot");

        Assert.Equal(2, exit);
        Assert.Contains("unknown kind 'teapot'", stderr, StringComparison.Ordinal);
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int signal);
}
