using System.Text.Json;

namespace Latch.Cli.Tests;

public sealed class KeysLintTests
{
    // what ssh-keygen -l -E sha256|md5 -f examples/authorized_keys prints for its keys
    private const string AliceSha256 = "SHA256:sDgm1OXQrQkkskvMEEhAVO+/FtDbEIse3phw3ip+4bE";
    private const string AliceMd5 = "MD5:05:dc:f3:47:17:ae:72:42:f5:c2:0b:05:76:90:d1:a2";
    private const string BobCertSha256 = "SHA256:Q4D0Zq/BS3tk1aM9Kn2kz2xjrh87v2OCl0G3w3IpigQ";

    [Fact]
    public async Task Lists_each_key_line_with_number_type_fingerprint_options_and_comment()
    {
        var (exitCode, output, error) = await CliRun.InProcessAsync(["keys", "lint", CliRun.Example]);

        Assert.Equal(1, exitCode);
        Assert.Empty(error);
        var lines = output.Split('\n');
        Assert.Contains(lines, l => l.TrimStart().StartsWith("4  ssh-ed25519", StringComparison.Ordinal) && l.Contains(AliceSha256, StringComparison.Ordinal) && l.EndsWith("alice@laptop", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("ssh-rsa", StringComparison.Ordinal) && l.Contains("restrict,command=\"/usr/local/bin/backup --receive \\\"nightly, full\\\"\"  deploy@ci", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains(BobCertSha256, StringComparison.Ordinal) && l.Contains("ssh-ed25519-cert-v01@openssh.com", StringComparison.Ordinal));
        Assert.DoesNotContain(lines, l => l.Contains("# ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Reports_a_malformed_line_with_what_is_wrong_and_its_column_and_exits_1()
    {
        var (exitCode, output, _) = await CliRun.InProcessAsync(["keys", "lint", CliRun.Example]);

        Assert.Equal(1, exitCode);
        Assert.Contains("    13  error: base64 blob is truncated (blob says 'ssh-ed25519' but the key is 21 bytes short) at column 13", output, StringComparison.Ordinal);
        Assert.Contains("5 keys, 1 malformed line", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Exits_0_when_every_key_line_is_valid()
    {
        var path = CliRun.WriteTemp(string.Join('\n', CliRun.GoodLines()) + "\n");
        try
        {
            var (exitCode, output, _) = await CliRun.InProcessAsync(["keys", "lint", path]);
            Assert.Equal(0, exitCode);
            Assert.Contains("5 keys, 0 malformed lines", output, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task Prints_md5_fingerprints_with_E_md5_like_ssh_keygen()
    {
        var (_, output, _) = await CliRun.InProcessAsync(["keys", "lint", "-E", "md5", CliRun.Example]);

        Assert.Contains(AliceMd5, output, StringComparison.Ordinal);
        Assert.DoesNotContain("SHA256:", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Exits_2_and_names_the_file_when_it_is_missing()
    {
        var (exitCode, _, error) = await CliRun.InProcessAsync(["keys", "lint", "/nonexistent/authorized_keys"]);

        Assert.Equal(2, exitCode);
        Assert.Contains("cannot read '/nonexistent/authorized_keys': no such file", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("keys lint")]
    [InlineData("keys lint -E sha1 x")]
    [InlineData("keys frobnicate")]
    public async Task Exits_2_on_a_usage_error(string commandLine)
    {
        var (exitCode, _, error) = await CliRun.InProcessAsync(commandLine.Split(' '));

        Assert.Equal(2, exitCode);
        Assert.Contains("Run 'latch --help' for usage.", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Reads_standard_input_for_a_dash()
    {
        var (exitCode, output, _) = await CliRun.InProcessAsync(["keys", "lint", "-"], File.ReadAllBytes(CliRun.Example));

        Assert.Equal(1, exitCode);
        Assert.Contains("(stdin): 5 keys, 1 malformed line", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Json_report_lists_files_lines_and_overall_validity()
    {
        var (exitCode, output, _) = await CliRun.InProcessAsync(["keys", "lint", "--json", CliRun.Example, "/nonexistent"]);

        Assert.Equal(2, exitCode);
        using var json = JsonDocument.Parse(output);
        var root = json.RootElement;
        Assert.False(root.GetProperty("valid").GetBoolean());
        var files = root.GetProperty("files");
        Assert.Equal(2, files.GetArrayLength());

        var example = files[0];
        Assert.Equal(5, example.GetProperty("keys").GetInt32());
        Assert.Equal(1, example.GetProperty("malformed").GetInt32());
        var alice = example.GetProperty("lines")[0];
        Assert.Equal(4, alice.GetProperty("line").GetInt32());
        Assert.Equal("key", alice.GetProperty("kind").GetString());
        Assert.Equal("ssh-ed25519", alice.GetProperty("type").GetString());
        Assert.Equal(256, alice.GetProperty("bits").GetInt32());
        Assert.Equal(AliceSha256, alice.GetProperty("fingerprint").GetString());
        Assert.Equal("alice@laptop", alice.GetProperty("comment").GetString());
        var deploy = example.GetProperty("lines")[1];
        Assert.Equal("restrict", deploy.GetProperty("options")[0].GetProperty("name").GetString());
        Assert.Equal("/usr/local/bin/backup --receive \"nightly, full\"", deploy.GetProperty("options")[1].GetProperty("value").GetString());
        var malformed = example.GetProperty("lines")[5];
        Assert.Equal("malformed", malformed.GetProperty("kind").GetString());
        Assert.Equal(13, malformed.GetProperty("column").GetInt32());
        Assert.StartsWith("base64 blob is truncated", malformed.GetProperty("error").GetString(), StringComparison.Ordinal);

        Assert.Equal("cannot read '/nonexistent': no such file", files[1].GetProperty("error").GetString());
    }

    [Fact]
    public async Task Escapes_control_characters_in_comments_so_a_file_cannot_drive_the_terminal()
    {
        var line = CliRun.GoodLines().First(l => l.StartsWith("ssh-ed25519", StringComparison.Ordinal));
        var path = CliRun.WriteTemp(line + " \u001b[31mred\n");
        try
        {
            var (_, output, _) = await CliRun.InProcessAsync(["keys", "lint", path]);
            Assert.Contains("\\x1b[31mred", output, StringComparison.Ordinal);
            Assert.DoesNotContain('\u001b', output);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
