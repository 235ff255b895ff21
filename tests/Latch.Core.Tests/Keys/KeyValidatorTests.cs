namespace Latch.Core.Tests.Keys;

public sealed class KeyValidatorTests
{
    private static readonly string s_good = TestKeys.Line(TestKeys.Ed25519Blob(), "alice@laptop");

    private static string Rejected(string text, KeyValidationOptions? options = null)
    {
        Assert.False(KeyValidator.TryValidate(text, options ?? KeyValidationOptions.Default, out var key, out var error), $"accepted: {text}");
        Assert.Null(key);
        return error;
    }

    [Fact]
    public void Accepts_one_clean_key_line()
    {
        Assert.True(KeyValidator.TryValidate(s_good, KeyValidationOptions.Default, out var key, out var error), error);
        Assert.Equal("alice@laptop", key.Comment);
    }

    public static TheoryData<string, string> Hostile() => new()
    {
        { s_good + "\n", "key contains a line break (LF) at column" },
        { s_good + "\r", "key contains a line break (CR) at column" },
        { s_good + "\n" + s_good, "key contains a line break (LF)" },
        { s_good + "\0", "key contains a NUL character at column" },
        { s_good + " $(reboot)", "comment contains '$' at column 95" },
        { s_good + " `id`", "comment contains '`'" },
        { s_good + " it's", "comment contains '''" },
        { s_good + " \"quoted\"", "comment contains '\"'" },
        { s_good + "; rm -rf ~", "comment contains ';'" },
        { s_good + " caf\u00e9", "key contains non-ASCII character 'é' (U+00E9)" },
        { s_good + " \u202egnp.exe", "key contains non-ASCII character" },
        { s_good + " " + new string('a', 9 * 1024), "an authorized_keys line may be at most 8192 (sshd's limit)" },
        { "", "no key given: the text is empty" },
        { "   ", "no key given: the text is empty" },
        { "# just a comment", "no key: the text is blank or a '#' comment" },
        { "ssh-foo AAAA", "not a valid public key: unknown key type 'ssh-foo' at column 1" },
        { "ssh-ed25519 " + Convert.ToBase64String(TestKeys.Ed25519Blob()[..^3]), "not a valid public key: base64 blob is truncated" },
        { "restrict " + s_good, "key options (restrict) are not allowed here" },
        { s_good.Replace(' ', '\t'), "key contains a tab at column 12" },
        { TestKeys.Line(TestKeys.RsaBlob(1024)), "RSA key is 1024 bits; at least 2048 are required" },
    };

    [Theory]
    [MemberData(nameof(Hostile))]
    public void Rejects_hostile_input_with_a_clear_message(string text, string expected)
    {
        Assert.Contains(expected, Rejected(text), StringComparison.Ordinal);
    }

    [Fact]
    public void Allows_options_only_when_the_caller_allows_them()
    {
        var line = "restrict,command=\"uptime\" " + s_good;
        Rejected(line);
        Assert.True(KeyValidator.TryValidate(line, KeyValidationOptions.Default with { AllowOptions = true }, out var key, out _));
        Assert.Equal(2, key.Options.Count);
    }

    [Fact]
    public void Rejects_an_ecdsa_point_that_is_not_on_its_curve()
    {
        var point = TestKeys.EcdsaPoint(256);
        point[^1] ^= 1;
        var line = TestKeys.Line(TestKeys.Concat(TestKeys.String("ecdsa-sha2-nistp256"), TestKeys.String("nistp256"), TestKeys.String(point)));

        Assert.Contains("ECDSA point is not on curve nistp256", Rejected(line), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(256)]
    [InlineData(384)]
    [InlineData(521)]
    public void Accepts_real_ecdsa_points_on_each_curve(int bits)
    {
        Assert.True(KeyValidator.TryValidate(TestKeys.Line(TestKeys.EcdsaBlob(bits), "host"), KeyValidationOptions.Default, out _, out var error), error);
    }

    [Fact]
    public void Rejects_certificates_when_told_to()
    {
        var certificate = TestKeys.Line(TestKeys.Ed25519CertBlob(), "cert");
        Assert.True(KeyValidator.TryValidate(certificate, KeyValidationOptions.Default, out var key, out var error), error);
        Assert.True(key.IsCertificate);

        Assert.Contains(
            "certificates (ssh-ed25519-cert-v01@openssh.com) are not allowed here",
            Rejected(certificate, KeyValidationOptions.Default with { AllowCertificates = false }),
            StringComparison.Ordinal);
    }
}
