using System.Text.Json;
using Latch.Agent.Commands;
using Latch.Agent.Guard.Install;
using Latch.Agent.KeyStore;
using Latch.Agent.KeyVaultPull;
using Microsoft.Extensions.Time.Testing;

namespace Latch.Agent.Tests;

public sealed class StatusTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 25, 12, 0, 0, TimeSpan.Zero);

    /// <summary>A latchd.toml pointing state, store and socket into <paramref name="dir"/>, and a layout whose sshd -T prints <paramref name="sshdT"/>.</summary>
    private static (string Config, GuardLayout Layout) Setup(TestDirectory dir, string sshdT = "authorizedkeyscommand none\nauthorizedkeyscommanduser nobody\n")
    {
        var config = dir.Combine("latchd.toml");
        File.WriteAllText(config, $"""
            [Latch]
            StateDir = "{dir.Combine("state")}"

            [guard]
            store_dir = "{dir.Combine("lib/keys")}"
            socket = "{dir.Combine("latchd.sock")}"
            """);
        dir.RootDirectory("state");
        dir.RootDirectory("lib");
        dir.RootDirectory("lib/keys");
        var sshd = dir.Combine("sshd");
        // stands in for `sshd -T` (the rig tests ask the real sshd): prints sshd's effective settings
        File.WriteAllText(sshd, "#!/bin/sh\nprintf '%s' '" + sshdT + "'\n");
        File.SetUnixFileMode(sshd, (UnixFileMode)0b111_101_101);
        return (config, new GuardLayout { Sshd = sshd, StoreDir = dir.Combine("lib/keys"), SshdConfigDir = dir.Combine("sshd_config.d"), BackupDir = dir.Combine("backup"), WaagentLib = dir.Combine("waagent") });
    }

    private static async Task<(int Status, string Out, string Error)> RunAsync(string config, GuardLayout layout, bool json)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var status = await StatusCommand.RunAsync(config, json, output, error, new FakeTimeProvider(Now), TestContext.Current.CancellationToken, layout);
        return (status, output.ToString(), error.ToString());
    }

    [Fact]
    public async Task Status_shows_the_marker_keys_per_user_and_the_last_recorded_pull_and_exits_0_when_healthy()
    {
        using var dir = new TestDirectory();
        var (config, layout) = Setup(dir);
        File.WriteAllText(dir.Combine("state/provisioned"), "6c1f2b6e-0c2d-4e8f-9a7b-1d2e3f405162\n");
        var store = new KeyStoreFiles(dir.Combine("lib/keys"));
        store.Write(new KeyStoreDocument("alice",
            [
                ManagedKey.Create(GeneratedKeys.Public("status-a"), "local", null, null),
                ManagedKey.Create(GeneratedKeys.Public("status-b"), "keyvault:latch-vm1-key", null, Now.AddDays(-1)),
                ManagedKey.Create(GeneratedKeys.Public("status-c"), "local", Now.AddDays(1), null),
            ],
            [new RetiredKey(GeneratedKeys.Public("status-d"), "keyvault:old", Now.AddDays(-2))]), TestContext.Current.CancellationToken);
        Assert.Null(KeyVaultStatusFile.Write(dir.Combine("lib/keyvault-status.json"),
            new KeyVaultStatus("https://latch-kv.vault.azure.net/", Now.AddMinutes(-1), Now.AddMinutes(-1), null, 2, 7, false), TestContext.Current.CancellationToken));

        var text = await RunAsync(config, layout, json: false);
        var json = await RunAsync(config, layout, json: true);

        Assert.Equal(0, text.Status);
        Assert.Contains("provisioned: yes, VM 6c1f2b6e-0c2d-4e8f-9a7b-1d2e3f405162", text.Out, StringComparison.Ordinal);
        Assert.Contains("AuthorizedKeysCommand: not installed (sshd: none)", text.Out, StringComparison.Ordinal);
        Assert.Contains("file guard: not running", text.Out, StringComparison.Ordinal);
        Assert.Contains("key vault: https://latch-kv.vault.azure.net/ (last pull, no daemon running): ok at 2026-11-25 11:59:00Z, 2 key(s)", text.Out, StringComparison.Ordinal);
        Assert.Contains("managed keys of alice: 1 valid, 1 expired, 1 not yet valid, 1 retired", text.Out, StringComparison.Ordinal);
        Assert.EndsWith("healthy\n", text.Out, StringComparison.Ordinal);

        Assert.Equal(0, json.Status);
        using var document = JsonDocument.Parse(json.Out);
        var root = document.RootElement;
        Assert.True(root.GetProperty("provisioning").GetProperty("provisioned").GetBoolean());
        Assert.Equal("6c1f2b6e-0c2d-4e8f-9a7b-1d2e3f405162", root.GetProperty("provisioning").GetProperty("vm_id").GetString());
        Assert.Equal("not installed", root.GetProperty("guard").GetProperty("authorized_keys_command").GetString());
        Assert.False(root.GetProperty("guard").GetProperty("file_guard_running").GetBoolean());
        Assert.Equal("last pull", root.GetProperty("key_vault").GetProperty("from").GetString());
        Assert.False(root.GetProperty("key_vault").GetProperty("using_last_known_good").GetBoolean());
        var alice = Assert.Single(root.GetProperty("users").EnumerateArray());
        Assert.Equal(1, alice.GetProperty("valid").GetInt32());
        Assert.Equal(1, alice.GetProperty("expired").GetInt32());
        Assert.Empty(root.GetProperty("problems").EnumerateArray());
    }

    [Fact]
    public async Task Last_known_good_keys_an_unusable_store_and_an_inactive_drop_in_each_make_status_exit_1_and_say_why()
    {
        using var dir = new TestDirectory();
        var (config, layout) = Setup(dir);
        Directory.CreateDirectory(layout.SshdConfigDir);
        File.WriteAllText(layout.DropInPath, layout.DropInText);
        var store = new KeyStoreFiles(dir.Combine("lib/keys"));
        store.Write(new KeyStoreDocument("bob", [ManagedKey.Create(GeneratedKeys.Public("status-e"), "local", null, null)], []), TestContext.Current.CancellationToken);
        File.SetUnixFileMode(store.PathOf("bob"), (UnixFileMode)0b110_110_100);
        Assert.Null(KeyVaultStatusFile.Write(dir.Combine("lib/keyvault-status.json"),
            new KeyVaultStatus("https://latch-kv.vault.azure.net/", Now.AddMinutes(-1), Now.AddHours(-3), "Key Vault answered 503", 2, 9, true), TestContext.Current.CancellationToken));

        var (status, output, _) = await RunAsync(config, layout, json: false);

        Assert.Equal(1, status);
        Assert.Contains("provisioned: no", output, StringComparison.Ordinal);
        Assert.Contains("AuthorizedKeysCommand: installed but not active", output, StringComparison.Ordinal);
        Assert.Contains("USING THE LAST KNOWN GOOD KEYS since 2026-11-25 11:59:00Z: Key Vault answered 503; last success 2026-11-25 09:00:00Z", output, StringComparison.Ordinal);
        Assert.Contains("managed keys of bob: UNUSABLE", output, StringComparison.Ordinal);
        Assert.Contains("problems:\n", output, StringComparison.Ordinal);
        Assert.Contains("run 'latchd guard install' again", output, StringComparison.Ordinal);
        Assert.Contains("the last known good keys stay: Key Vault answered 503", output, StringComparison.Ordinal);
        Assert.Contains("the managed keys of bob are unusable", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Status_names_a_failing_sshd_and_a_bad_configuration_file_exits_2()
    {
        using var dir = new TestDirectory();
        var (config, layout) = Setup(dir);
        var (status, output, _) = await RunAsync(config, layout with { Sshd = dir.Combine("no-such-sshd") }, json: false);
        Assert.Equal(1, status);
        Assert.Contains("AuthorizedKeysCommand: unknown", output, StringComparison.Ordinal);
        Assert.Contains("-T' failed, so whether sshd asks latch-akc is unknown", output, StringComparison.Ordinal);

        File.AppendAllText(config, "stor_dir = \"/x\"\n");
        var bad = await RunAsync(config, layout, json: false);
        Assert.Equal(2, bad.Status);
        Assert.Contains("stor_dir", bad.Error, StringComparison.Ordinal);
    }
}
