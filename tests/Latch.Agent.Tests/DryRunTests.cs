namespace Latch.Agent.Tests;

public sealed class DryRunTests
{
    [Fact]
    public async Task Dry_run_prints_the_plan_from_both_sources_and_changes_nothing()
    {
        using var sandbox = new Sandbox();
        var inputs = Directory.CreateTempSubdirectory("latchd-dry-").FullName;
        try
        {
            File.WriteAllText(inputs + "/imds.json", AgentRun.ImdsJson);
            File.WriteAllText(inputs + "/ovf-env.xml", AgentRun.OvfEnv);
            var before = sandbox.Snapshot();

            var (status, output, error) = await AgentRun.RunAsync(
                ["provision", "--dry-run", "--root", sandbox.Root, "--imds-json", inputs + "/imds.json", "--ovf-env", inputs + "/ovf-env.xml"]);

            Assert.True(status == 0, error + output);
            Assert.Equal(before, sandbox.Snapshot());
            Assert.Contains("latchd provisioning plan for VM 6c1f2b6e-0c2d-4e8f-9a7b-1d2e3f405162", output, StringComparison.Ordinal);
            Assert.Contains("user:       azureuser (create: useradd -m -s /bin/bash, home /home/azureuser)", output, StringComparison.Ordinal);
            Assert.Contains("password:   set from ovf-env.xml (15 characters", output, StringComparison.Ordinal);
            Assert.Contains("SHA256:", output, StringComparison.Ordinal);
            Assert.Contains("operator@test (from ovf-env.xml)", output, StringComparison.Ordinal);
            Assert.Contains("web@test (from IMDS)", output, StringComparison.Ordinal);
            Assert.Contains("hostname:   ovf-host", output, StringComparison.Ordinal);
            Assert.Contains("PasswordAuthentication yes", output, StringComparison.Ordinal);
            Assert.Contains("/etc/ssh/sshd_config.d/50-latch.conf", output, StringComparison.Ordinal);
            Assert.Contains("/etc/sudoers.d/latch-azureuser", output, StringComparison.Ordinal);
            Assert.Contains("computerName 'vm1' differs from ovf-env.xml's 'ovf-host'; ovf-env.xml wins", output, StringComparison.Ordinal);
            Assert.Contains("dry run: nothing was changed", output, StringComparison.Ordinal);
            Assert.DoesNotContain("Never-Printed-7", output + error, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(inputs, recursive: true);
        }
    }

    [Fact]
    public async Task Dry_run_of_bad_input_says_what_a_real_run_would_report()
    {
        using var sandbox = new Sandbox();
        var inputs = Directory.CreateTempSubdirectory("latchd-dry-").FullName;
        try
        {
            File.WriteAllText(inputs + "/imds.json", AgentRun.ImdsJson.Replace("\"azureuser\"", "\"Root\"", StringComparison.Ordinal));
            var before = sandbox.Snapshot();

            var (status, output, _) = await AgentRun.RunAsync(["provision", "--dry-run", "--root", sandbox.Root, "--imds-json", inputs + "/imds.json"]);

            Assert.Equal(1, status);
            Assert.Equal(before, sandbox.Snapshot());
            Assert.Contains("refused: latchd: step 'user' failed (InvalidUserName)", output, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(inputs, recursive: true);
        }
    }

    [Fact]
    public async Task Ovf_env_and_imds_json_without_dry_run_are_a_usage_error()
    {
        var (status, _, error) = await AgentRun.RunAsync(["provision", "--ovf-env", "/x.xml", "--root", "/"]);

        Assert.True(status is 2 or 1, error);
    }
}
