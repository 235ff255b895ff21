using System.Diagnostics;
using Latch.Agent.Provisioning;
using Latch.Testing;

namespace Latch.Agent.Tests;

public sealed class Sha512CryptTests
{
    [Theory]
    // the test vectors of Drepper's specification
    [InlineData("Hello world!", "saltstring", 5000, "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1")]
    [InlineData("Hello world!", "saltstringsaltstring", 10000, "$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v.")]
    [InlineData("This is just a test", "toolongsaltstring", 5000, "$6$rounds=5000$toolongsaltstrin$lQ8jolhgVRVhY4b5pZKaysCLi0QBxGoNeKQzQ3glMhwllF7oGDZxUhx1yxdYcz/e1JSbq3y6JMxxl8audkUEm0")]
    // glibc's crypt(3) for the empty password (openssl passwd prints "<NULL>" for it)
    [InlineData("", "abc", 5000, "$6$abc$mJP3a6FyA8uCnzRtlnNypPwjnvpi5TP9qOrInzrfDmwxUQG38PkpCPdqfTb8JQfAngapMxeim4AZ..hSdRRzD.")]
    public void Matches_the_specification_vectors(string password, string salt, int rounds, string expected)
    {
        // the spec writes rounds=5000 explicitly in one vector; glibc and openssl omit it, as we do
        Assert.Equal(expected.Replace("rounds=5000$", "", StringComparison.Ordinal), Sha512Crypt.Hash(password, salt, rounds));
    }

    [Fact]
    public async Task Matches_openssl_passwd_for_passwords_of_every_length_and_script()
    {
        var openssl = Requires.Tool("openssl");
        string[] passwords = ["a", "Pa55-word!", new string('x', 63), new string('y', 64), new string('z', 200), "pässwörd ✓ 密码", "with space and 'quotes\" and $6$"];
        foreach (var password in passwords)
        {
            var salt = Sha512Crypt.NewSalt(10);
            var expected = await OpensslAsync(openssl, salt, password);
            Assert.Equal(expected, Sha512Crypt.Hash(password, salt));
        }
    }

    [Fact]
    public void A_new_salt_uses_only_crypt_characters_and_the_requested_length()
    {
        for (var length = 1; length <= 16; length++)
        {
            var salt = Sha512Crypt.NewSalt(length);
            Assert.Equal(length, salt.Length);
            Assert.All(salt, c => Assert.True(char.IsAsciiLetterOrDigit(c) || c is '.' or '/'));
        }

        Assert.NotEqual(Sha512Crypt.NewSalt(16), Sha512Crypt.NewSalt(16));
    }

    private static async Task<string> OpensslAsync(string openssl, string salt, string password)
    {
        var start = new ProcessStartInfo(openssl) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "passwd", "-6", "-salt", salt, "-stdin" })
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        await process.StandardInput.WriteAsync(password + "\n");
        process.StandardInput.Close();
        var output = await process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        await process.WaitForExitAsync(TestContext.Current.CancellationToken);
        Assert.Equal(0, process.ExitCode);
        return output.Trim();
    }
}
