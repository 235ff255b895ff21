using System.Text;

namespace Latch.Core.Tests.Keys;

public sealed class KeyLineParsingTests
{
    private static KeyParseError ErrorOf(string line)
    {
        Assert.False(SshPublicKey.TryParse(line, out _, out var error), $"expected '{line}' to be rejected");
        return error;
    }

    [Fact]
    public void Parses_a_bare_ed25519_key_with_its_comment()
    {
        var blob = TestKeys.Ed25519Blob();
        var key = SshPublicKey.Parse(TestKeys.Line(blob, "alice@laptop"));

        Assert.Equal("ssh-ed25519", key.Type);
        Assert.Equal(blob, key.Blob.ToArray());
        Assert.Equal("alice@laptop", key.Comment);
        Assert.Empty(key.Options);
        Assert.Equal(256, key.Bits);
    }

    [Fact]
    public void Keeps_a_comment_with_spaces_verbatim()
    {
        var key = SshPublicKey.Parse(TestKeys.Line(TestKeys.Ed25519Blob(), "work key  (old)\t!"));
        Assert.Equal("work key  (old)\t!", key.Comment);
    }

    [Fact]
    public void Parses_every_documented_option_case_insensitively()
    {
        const string Options = "RESTRICT,Cert-Authority,no-pty,PTY,no-port-forwarding,no-agent-forwarding,no-x11-forwarding,no-user-rc,"
            + "port-forwarding,agent-forwarding,X11-forwarding,user-rc,no-touch-required,verify-required,"
            + "command=\"echo \\\"hi, there\\\"\",from=\"10.0.0.0/8,!10.1.0.0/16\",environment=\"A_B=1 2\",expiry-time=\"20300101Z\","
            + "permitopen=\"localhost:8080\",permitlisten=\"8080\",principals=\"alice,bob\",tunnel=\"0\"";
        var key = SshPublicKey.Parse(TestKeys.Line(TestKeys.Ed25519Blob(), "c", Options));

        Assert.Equal(
            ["restrict", "cert-authority", "no-pty", "pty", "no-port-forwarding", "no-agent-forwarding", "no-X11-forwarding", "no-user-rc",
             "port-forwarding", "agent-forwarding", "X11-forwarding", "user-rc", "no-touch-required", "verify-required",
             "command", "from", "environment", "expiry-time", "permitopen", "permitlisten", "principals", "tunnel"],
            key.Options.Select(o => o.Name));
        Assert.Equal("echo \"hi, there\"", key.Options.Single(o => o.Name == "command").Value);
        Assert.Equal("10.0.0.0/8,!10.1.0.0/16", key.Options.Single(o => o.Name == "from").Value);
        Assert.Equal(Options, key.OptionsText);
        Assert.StartsWith(Options + " ssh-ed25519 ", key.ToLine(), StringComparison.Ordinal);
    }

    [Fact]
    public void Reports_an_unknown_key_type_at_column_1()
    {
        Assert.Equal(new KeyParseError("unknown key type 'ssh-foo'", 1), ErrorOf("ssh-foo AAAAC3NzaC1lZDI1NTE5AAAAIA== x"));
    }

    [Fact]
    public void Reports_an_unknown_key_type_after_options_where_it_stands()
    {
        Assert.Equal(new KeyParseError("unknown key type 'ssh-foo'", 10), ErrorOf("restrict ssh-foo AAAA"));
    }

    [Fact]
    public void Reports_an_unterminated_quote_at_the_opening_quote()
    {
        Assert.Equal(new KeyParseError("unterminated quote in options", 9), ErrorOf("command=\"ls ssh-ed25519 AAAA"));
    }

    [Fact]
    public void Reports_a_truncated_blob_with_how_many_bytes_are_missing()
    {
        var blob = TestKeys.Ed25519Blob();
        var line = "ssh-ed25519 " + Convert.ToBase64String(blob[..^12]);

        var error = ErrorOf(line);

        Assert.Equal("base64 blob is truncated (blob says 'ssh-ed25519' but the key is 12 bytes short)", error.Message);
        Assert.Equal(13, error.Column);
        Assert.Equal("base64 blob is truncated (blob says 'ssh-ed25519' but the key is 12 bytes short) at column 13", error.ToString());
    }

    [Fact]
    public void Rejects_trailing_bytes_after_the_key()
    {
        var error = ErrorOf("ssh-ed25519 " + Convert.ToBase64String([.. TestKeys.Ed25519Blob(), 1, 2, 3]));
        Assert.Equal("base64 blob has 3 bytes of trailing data after the 'ssh-ed25519' key", error.Message);
    }

    [Fact]
    public void Rejects_a_blob_whose_type_differs_from_the_line()
    {
        var error = ErrorOf("ssh-rsa " + Convert.ToBase64String(TestKeys.Ed25519Blob()));
        Assert.Equal("key type mismatch: the line says 'ssh-rsa' but the blob says 'ssh-ed25519'", error.Message);
        Assert.Equal(9, error.Column);
    }

    [Fact]
    public void Rejects_an_ed25519_key_of_the_wrong_length()
    {
        var blob = TestKeys.Concat(TestKeys.String("ssh-ed25519"), TestKeys.String(new byte[31]));
        Assert.Equal("ed25519 public key is 31 bytes; it must be 32", ErrorOf(TestKeys.Line(blob)).Message);
    }

    [Fact]
    public void Rejects_an_ecdsa_key_whose_curve_name_does_not_match_its_type()
    {
        var blob = TestKeys.Concat(TestKeys.String("ecdsa-sha2-nistp256"), TestKeys.String("nistp384"), TestKeys.String(TestKeys.EcdsaPoint(384)));
        Assert.Equal("ECDSA curve 'nistp384' does not match key type 'ecdsa-sha2-nistp256' (it needs 'nistp256')", ErrorOf(TestKeys.Line(blob)).Message);
    }

    [Fact]
    public void Rejects_an_ecdsa_point_of_the_wrong_length()
    {
        var blob = TestKeys.Concat(TestKeys.String("ecdsa-sha2-nistp256"), TestKeys.String("nistp256"), TestKeys.String(TestKeys.EcdsaPoint(256)[..64]));
        Assert.StartsWith("ECDSA point is 64 bytes; nistp256 needs 65", ErrorOf(TestKeys.Line(blob)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Accepts_a_short_rsa_key_with_a_warning()
    {
        var key = SshPublicKey.Parse(TestKeys.Line(TestKeys.RsaBlob(768)));
        Assert.Equal(768, key.Bits);
        Assert.Equal("RSA modulus is 768 bits; sshd refuses RSA keys shorter than 1024 bits", key.Warning);
    }

    [Fact]
    public void Reports_the_first_character_that_is_not_base64()
    {
        var error = ErrorOf("ssh-ed25519 AAAA!AAA");
        Assert.Equal(new KeyParseError("'!' in the base64 key", 17), error);
    }

    [Fact]
    public void Reports_a_key_type_with_no_key_after_it()
    {
        Assert.Equal(new KeyParseError("key type 'ssh-ed25519' is not followed by a base64 key", 13), ErrorOf("ssh-ed25519 "));
    }

    [Theory]
    [InlineData("pty=\"x\" ssh-ed25519 AAAA", "option 'pty' takes no value", 4)]
    [InlineData("command ssh-ed25519 AAAA", "option 'command' needs a value: command=\"...\"", 8)]
    [InlineData("command=ls ssh-ed25519 AAAA", "value of option 'command' must start with a double quote", 9)]
    [InlineData("no-pty,,restrict ssh-ed25519 AAAA", "empty option (two commas in a row, or a comma at the start)", 8)]
    [InlineData("no-pty, ssh-ed25519 AAAA", "options end with a comma", 7)]
    [InlineData("restrict,bogus ssh-ed25519 AAAA", "unknown option 'bogus'", 10)]
    [InlineData("expiry-time=\"tomorrow\" ssh-ed25519 AAAA", "expiry-time \"tomorrow\" is not YYYYMMDD[HHMM[SS]][Z]", 14)]
    [InlineData("environment=\"A-B=1\" ssh-ed25519 AAAA", "environment \"A-B=1\" is not NAME=value (NAME made of letters, digits and '_')", 14)]
    [InlineData("permitopen=\"host\" ssh-ed25519 AAAA", "permitopen \"host\" is not host:port (port a number from 1 to 65535, or '*')", 13)]
    [InlineData("command=\"a\",command=\"b\" ssh-ed25519 AAAA", "option 'command' appears more than once", 13)]
    [InlineData("restrict", "options are not followed by a key type", 9)]
    [InlineData("ssh-dss AAAA", "unsupported key type 'ssh-dss' (DSA keys are disabled since OpenSSH 7.0 and removed in 10.0; use ssh-ed25519)", 1)]
    public void Reports_option_mistakes_with_their_column(string line, string message, int column)
    {
        Assert.Equal(new KeyParseError(message, column), ErrorOf(line));
    }

    [Fact]
    public void Parse_throws_a_key_format_exception_naming_the_problem()
    {
        var exception = Assert.Throws<KeyFormatException>(() => SshPublicKey.Parse("ssh-foo AAAA"));
        Assert.Equal("unknown key type 'ssh-foo' at column 1", exception.Message);
        Assert.Equal(1, exception.Error!.Column);
    }

    [Fact]
    public void Identity_ignores_options_and_comment()
    {
        var blob = TestKeys.Ed25519Blob();
        var plain = TestKeys.Key(blob, "alice");
        var restricted = TestKeys.Key(blob, "bob", "restrict,command=\"true\"");

        Assert.Equal(plain.Identity, restricted.Identity);
        Assert.Equal(plain.Identity.GetHashCode(), restricted.Identity.GetHashCode());
        Assert.NotEqual(plain.Identity, TestKeys.Key(TestKeys.Ed25519Blob()).Identity);
        Assert.Equal(plain.Identity, new KeyIdentity("ssh-ed25519", blob));
        Assert.Equal(plain.Sha256Fingerprint, plain.Identity.Sha256Fingerprint);
    }

    [Fact]
    public void A_certificate_fingerprints_as_the_key_it_certifies()
    {
        var certificate = TestKeys.Key(TestKeys.Ed25519CertBlob());
        var certifiedKey = certificate.Blob.Span.Slice(4 + 32 + 4 + 32, 4 + 32).ToArray();
        var plain = TestKeys.Key(TestKeys.Ed25519Blob(certifiedKey[4..]));

        Assert.Equal(plain.Sha256Fingerprint, certificate.Sha256Fingerprint);
        Assert.Equal(plain.Md5Fingerprint, certificate.Md5Fingerprint);
        Assert.Equal(plain.Sha256Fingerprint, certificate.Identity.Sha256Fingerprint);
        Assert.NotEqual(plain.Identity, certificate.Identity);
    }

    [Fact]
    public void Canonical_line_parses_back_to_the_same_key()
    {
        var key = TestKeys.Key(TestKeys.RsaBlob(), "ops key", "from=\"*.example.com\"");
        var again = SshPublicKey.Parse(key.ToLine());

        Assert.Equal(key.Identity, again.Identity);
        Assert.Equal(key.ToLine(), again.ToLine());
        Assert.Equal(Encoding.UTF8.GetBytes(key.ToLine()), Encoding.UTF8.GetBytes(again.ToLine()));
    }
}
