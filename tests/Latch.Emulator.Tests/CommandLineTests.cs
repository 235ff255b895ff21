using System.Diagnostics;
using System.Net;
using System.Runtime.InteropServices;

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
