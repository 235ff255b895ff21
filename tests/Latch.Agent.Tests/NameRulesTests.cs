using Latch.Agent.Provisioning;

namespace Latch.Agent.Tests;

public sealed class NameRulesTests
{
    [Theory]
    [InlineData("azureuser")]
    [InlineData("alice")]
    [InlineData("_svc")]
    [InlineData("a")]
    [InlineData("deploy-bot_2")]
    [InlineData("machine$")]
    [InlineData("abcdefghijklmnopqrstuvwxyz012345")]
    public void Accepts_names_useradd_accepts_by_default(string name) => Assert.Null(NameRules.CheckUserName(name));

    [Theory]
    [InlineData("", "empty")]
    [InlineData("Alice", "useradd's default rule")]
    [InlineData("AZUREUSER", "useradd's default rule")]
    [InlineData("../etc", "useradd's default rule")]
    [InlineData("a/b", "useradd's default rule")]
    [InlineData("-rf", "useradd's default rule")]
    [InlineData("1user", "useradd's default rule")]
    [InlineData("user name", "useradd's default rule")]
    [InlineData("user:0", "useradd's default rule")]
    [InlineData("us$er", "useradd's default rule")]
    [InlineData("user\n", "useradd's default rule")]
    [InlineData("abcdefghijklmnopqrstuvwxyz0123456", "at most 32")]
    [InlineData("root", "reserved")]
    [InlineData("daemon", "reserved")]
    [InlineData("sshd", "reserved")]
    [InlineData("www-data", "reserved")]
    [InlineData("systemd-anything", "reserved")]
    public void Refuses_invalid_and_reserved_names_saying_why(string name, string why)
    {
        var problem = NameRules.CheckUserName(name);

        Assert.NotNull(problem);
        Assert.Contains(why, problem, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', problem);
    }

    [Theory]
    [InlineData("vm1", true)]
    [InlineData("web-01.contoso.internal", true)]
    [InlineData("VM-Upper", true)]
    [InlineData("-leading", false)]
    [InlineData("trailing-", false)]
    [InlineData("under_score", false)]
    [InlineData("two..dots", false)]
    [InlineData("", false)]
    [InlineData("host;reboot", false)]
    public void Host_names_are_dns_names_of_at_most_64_characters(string name, bool valid)
    {
        Assert.Equal(valid, NameRules.CheckHostName(name) is null);
        Assert.NotNull(NameRules.CheckHostName(new string('a', 65)));
    }
}
