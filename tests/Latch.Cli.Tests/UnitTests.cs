using Latch.Cli.Commands;
using Latch.Cli.Config;
using Latch.Cli.Keys;
using Latch.Cli.Ssh;
using Latch.Cli.Sync;
using Latch.Cli.Tests.Infrastructure;

namespace Latch.Cli.Tests;

public sealed class UnitTests
{
    [Fact]
    public void Ssh_arguments_split_into_options_and_the_remote_command()
    {
        var split = SshArguments.Split(["-p", "2222", "-v", "-oBatchMode=yes", "-i", "key", "-L8080:localhost:80", "uptime", "-a"]);
        Assert.Equal(["-p", "2222", "-v", "-oBatchMode=yes", "-i", "key", "-L8080:localhost:80"], split.Options);
        Assert.Equal(["uptime", "-a"], split.Command);
        Assert.Empty(SshArguments.Split(["--", "-x"]).Options);
        Assert.Equal(["-x"], SshArguments.Split(["--", "-x"]).Command);
    }

    [Fact]
    public async Task The_public_key_derived_from_an_OpenSSH_private_key_matches_ssh_keygen()
    {
        Requires.Tool("ssh-keygen", "openssh-client");
        var directory = Directory.CreateTempSubdirectory("latch-unit-").FullName;
        try
        {
            foreach (var (type, passphrase) in ((string, string)[])[("ed25519", ""), ("ecdsa", ""), ("rsa", ""), ("ed25519", "secret-passphrase")])
            {
                var path = Path.Combine(directory, $"{type}-{passphrase.Length}");
                await CliWorld.RunToolAsync("ssh-keygen", "-q", "-t", type, "-N", passphrase, "-C", "c", "-f", path);
                Assert.True(OpenSshPrivateKey.TryGetPublicKeyLine(File.ReadAllText(path), out var line, out var error), error);
                var expected = File.ReadAllText(path + ".pub").Trim();
                Assert.Equal(string.Join(' ', expected.Split(' ').Take(2)), line);
            }

            Assert.False(OpenSshPrivateKey.TryGetPublicKeyLine("-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----", out _, out var pemError));
            Assert.Contains("ssh-keygen -p", pemError, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void Config_rejects_unknown_keys_wrong_types_and_bad_methods_with_the_file_name()
    {
        var error = Assert.Throws<ConfigException>(() => LatchConfig.Parse("/x/config.toml", "[ssh]\nsync_timout = 3\n"));
        Assert.Contains("/x/config.toml", error.Message, StringComparison.Ordinal);
        Assert.Contains("sync_timout", error.Message, StringComparison.Ordinal);
        Assert.Throws<ConfigException>(() => LatchConfig.Parse("c", "[ssh]\nsync_timeout = \"30\"\n"));
        Assert.Throws<ConfigException>(() => LatchConfig.Parse("c", "[ssh]\nsync_method = \"telnet\"\n"));
        var config = LatchConfig.Parse("c", "[ssh]\nauto_sync_keys = true\n[vm.\"web.1\"]\nauto_sync_keys = false\n[vm.db]\nuser = \"ops\"\n");
        Assert.False(config.VmBool("web.1", "auto_sync_keys"));
        Assert.Equal("ops", config.VmString("db", "user"));
        Assert.Null(config.VmString("web.1", "user"));
    }

    [Fact]
    public void Script_output_is_parsed_into_states_and_errors()
    {
        Assert.Equal(SyncState.Appended, SyncOutcome.Parse("latch-sync: user u uid 1 home /h\nlatch-sync: appended\n", 0, "").State);
        var failed = SyncOutcome.Parse("latch-sync: error unsafe /h/.ssh is a symbolic link\n", 68, "");
        Assert.Equal(("unsafe", "/h/.ssh is a symbolic link"), (failed.ErrorKind, failed.Message));
        Assert.Equal("no-result", SyncOutcome.Parse("bash: flock: command not found\n", 127, "boom").ErrorKind);
    }

    [Fact]
    public void Since_takes_durations_and_dates()
    {
        var now = new DateTimeOffset(2025, 6, 1, 12, 0, 0, TimeSpan.Zero);
        Assert.Equal(now.AddHours(-12), AuditCommand.ParseSince("12h", now));
        Assert.Equal(now.AddDays(-7), AuditCommand.ParseSince("7d", now));
        Assert.Equal(new DateTimeOffset(2025, 1, 31, 0, 0, 0, TimeSpan.Zero), AuditCommand.ParseSince("2025-01-31", now));
        Assert.Throws<CliException>(() => AuditCommand.ParseSince("yesterday", now));
    }

    [Fact]
    public void Doctor_flags_ssh_open_to_the_internet_and_password_logins()
    {
        Latch.Azure.ArmSecurityRule Rule(string name, int priority, string access, string source, string port) =>
            new(name, priority, "Inbound", access, "Tcp", [source], "*", "*", [port], false);
        Assert.Equal("open", DoctorCommand.FirstOpenSshRule([Rule("office", 100, "Allow", "203.0.113.0/24", "22"), Rule("open", 200, "Allow", "*", "20-30")])?.Name);
        Assert.Null(DoctorCommand.FirstOpenSshRule([Rule("deny", 100, "Deny", "Internet", "22"), Rule("open", 200, "Allow", "*", "22")]));
        var checks = DoctorCommand.FromSshd("passwordauthentication yes\nkbdinteractiveauthentication no\npermitrootlogin no\nlatchd no\n").ToList();
        Assert.False(checks.Single(c => c.Check == "key-only authentication").Ok);
        Assert.True(checks.Single(c => c.Check == "no root login").Ok);
        Assert.False(checks.Single(c => c.Check == "latch agent present").Ok);
    }

    [Fact]
    public async Task Help_lists_the_commands_and_ends_with_the_exit_codes()
    {
        var output = new StringWriter();
        var code = await LatchCommandLine.RunAsync(["--help"], new CliStreams(() => Stream.Null, output, new StringWriter()), TestContext.Current.CancellationToken);
        Assert.Equal(0, code);
        var text = output.ToString();
        foreach (var command in (string[])["connect", "keys", "run", "ssh-config", "vm", "audit", "config", "doctor"])
        {
            Assert.Contains("  " + command, text, StringComparison.Ordinal);
        }

        Assert.Contains("8    SSH did not come up within --connect-timeout", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Keys_status_reads_latchd_keys_list_and_ignores_retired_keys_and_other_users()
    {
        // the shape latchd keys list prints (src/Latch.Agent/Commands/KeysCommands.cs): a header, then TSV rows
        var list = "USER\tFINGERPRINT\tSOURCE\tEXPIRES\tSTATE\n"
            + "alice\tSHA256:aaa\tkeyvault:latch-vm1-key\tnever\tvalid\n"
            + "alice\tSHA256:bbb\tlocal\t2030-01-31 00:00:00Z\tvalid\n"
            + "alice\tSHA256:ccc\tkeyvault:old\t-\tretired 2026-11-25 10:00:00Z\n"
            + "bob\tSHA256:ddd\tlocal\tnever\tvalid\n";
        var keys = KeysStatusCommand.AgentKeys(list, "alice");
        Assert.Equal(["SHA256:aaa", "SHA256:bbb"], keys.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("2030-01-31 00:00:00Z", keys["SHA256:bbb"]);
        Assert.Empty(KeysStatusCommand.AgentKeys("", "alice"));
    }
}
