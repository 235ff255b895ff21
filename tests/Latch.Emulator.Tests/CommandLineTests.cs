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

            // the whole fake Azure answers: WireServer, HostGAPlugin, and Key Vault and ARM over TLS trusted through the printed CA
            using var wire = await http.GetAsync(endpoints["wireserver"] + "?comp=versions", deadline.Token);
            Assert.Equal(HttpStatusCode.OK, wire.StatusCode);
            using var plugin = await http.GetAsync(endpoints["hostgaplugin"] + "versions", deadline.Token);
            Assert.Equal(HttpStatusCode.OK, plugin.StatusCode);
            using var tls = new HttpClient(Latch.Testing.EmulatorTesting.TrustingHandler(endpoints["ca"]));
            using var vault = await tls.GetAsync(endpoints["keyvault"] + "secrets?api-version=7.5", deadline.Token);
            Assert.Equal(HttpStatusCode.Unauthorized, vault.StatusCode);
            Assert.StartsWith("Bearer authorization=", vault.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
            using var arm = await tls.GetAsync(endpoints["arm"] + "subscriptions?api-version=2022-12-01", deadline.Token);
            Assert.Equal(HttpStatusCode.Unauthorized, arm.StatusCode);

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

    [Theory]
    [InlineData("Information")]
    [InlineData("Trace")]
    public async Task The_request_log_has_method_path_status_and_duration_and_never_a_secret_or_token(string level)
    {
        const string tenant = "5e1c0a7e-0000-4000-8000-0000000000aa";
        const string clientId = "6b3c4d5e-6f70-4a81-92b3-c4d5e6f7a8b9";
        var seeded = "SEEDED-" + Guid.NewGuid().ToString("N");
        var written = "WRITTEN-" + Guid.NewGuid().ToString("N");
        var clientSecret = "CLIENT-" + Guid.NewGuid().ToString("N");
        var password = "PASSWORD-" + Guid.NewGuid().ToString("N");
        var signature = "SIG-" + Guid.NewGuid().ToString("N");
        var directory = Directory.CreateTempSubdirectory("latch-emu-secrets-").FullName;
        var scenario = Path.Combine(directory, "scenario.toml");
        await File.WriteAllTextAsync(scenario, $"""
            tenant_id = "{tenant}"
            [[vms]]
            name = "vm-a"
            admin_password = "{password}"
            disable_password_authentication = false
            principal_id = "7d1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b"
            [[vaults]]
            name = "kv-a"
            allowed_principals = ["7d1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b"]
            [[vaults.secrets]]
            name = "seeded"
            value = "{seeded}"
            [[service_principals]]
            client_id = "{clientId}"
            client_secret = "{clientSecret}"
            """, TestContext.Current.CancellationToken);
        using var process = Start("--scenario", scenario, "--state-dir", directory, "--log-level", level, "--write-media", "vm-a", "--run-command-latency", "0");
        var stderr = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        var tokens = new List<string>();
        string requests;
        try
        {
            var printed = await ReadUntilReadyAsync(process);
            var ct = TestContext.Current.CancellationToken;
            using var http = new HttpClient(Latch.Testing.EmulatorTesting.TrustingHandler(printed["ca"]));

            // a managed-identity token from IMDS (with a secret-looking query value), and an Entra token for a client secret
            using (var identity = new HttpRequestMessage(HttpMethod.Get, printed["imds"] + $"metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fvault.azure.net&sig={signature}"))
            {
                identity.Headers.Add("Metadata", "true");
                using var answer = await http.SendAsync(identity, ct);
                Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
                tokens.Add(JsonDocument.Parse(await answer.Content.ReadAsStringAsync(ct)).RootElement.GetProperty("access_token").GetString()!);
            }

            using (var form = new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["grant_type"] = "client_credentials", ["client_id"] = clientId, ["client_secret"] = clientSecret, ["scope"] = "https://management.azure.com/.default",
            }))
            using (var answer = await http.PostAsync(printed["arm"] + tenant + "/oauth2/v2.0/token", form, ct))
            {
                Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
                tokens.Add(JsonDocument.Parse(await answer.Content.ReadAsStringAsync(ct)).RootElement.GetProperty("access_token").GetString()!);
            }

            // Key Vault: read the seeded secret, write a new one; ARM: list VMs with the Entra token
            async Task<HttpResponseMessage> SendAsync(HttpMethod method, string url, string token, string? json = null)
            {
                using var request = new HttpRequestMessage(method, url);
                request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
                if (json is not null)
                {
                    request.Content = new StringContent(json, System.Text.Encoding.UTF8, "application/json");
                }

                return await http.SendAsync(request, ct);
            }

            using (var read = await SendAsync(HttpMethod.Get, printed["keyvault"] + "secrets/seeded?api-version=7.5", tokens[0]))
            {
                Assert.Contains(seeded, await read.Content.ReadAsStringAsync(ct), StringComparison.Ordinal);
            }

            using (var write = await SendAsync(HttpMethod.Put, printed["keyvault"] + "secrets/written?api-version=7.5", tokens[0], $$"""{"value":"{{written}}"}"""))
            {
                Assert.Equal(HttpStatusCode.OK, write.StatusCode);
            }

            using (var list = await SendAsync(HttpMethod.Get, printed["arm"] + "subscriptions?api-version=2022-12-01", tokens[1]))
            {
                Assert.Equal(HttpStatusCode.OK, list.StatusCode);
            }

            requests = await http.GetStringAsync(printed["control"] + "requests", ct);
        }
        finally
        {
            await StopAsync(process);
        }

        var log = await stderr;
        try
        {
            foreach (var value in new[] { seeded, written, clientSecret, password, signature }.Concat(tokens))
            {
                Assert.DoesNotContain(value, log, StringComparison.Ordinal);
                Assert.DoesNotContain(value, requests, StringComparison.Ordinal);
            }

            // every request: group, method, path (secret query values masked), status and duration
            Assert.Matches(@"identity GET /metadata/identity/oauth2/token\?api-version=2018-02-01&resource=https%3A%2F%2Fvault.azure.net&sig=\*\*\* -> 200 in [0-9.]+ ms", log);
            Assert.Matches($@"arm POST /{tenant}/oauth2/v2.0/token -> 200 in [0-9.]+ ms", log);
            Assert.Matches(@"keyvault GET /secrets/seeded\?api-version=7.5 -> 200 in [0-9.]+ ms", log);
            Assert.Matches(@"keyvault PUT /secrets/written\?api-version=7.5 -> 200 in [0-9.]+ ms", log);
            Assert.Matches(@"arm GET /subscriptions\?api-version=2022-12-01 -> 200 in [0-9.]+ ms", log);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
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
