using Latch.Agent.Config;
using Latch.Agent.Os;
using Latch.Agent.Provisioning;
using Latch.Azure;

namespace Latch.Agent.Tests;

public sealed class PlanTests
{
    private static readonly AgentConfig Config = new();

    private static ImdsInstance Imds(string user = "azureuser", string computer = "vm1", bool disablePassword = true, params string[] keys) =>
        new(new ImdsCompute("vm1", "6c1f2b6e-0c2d-4e8f-9a7b-1d2e3f405162", "westeurope", "rg", "sub", "Standard_B1s", new Dictionary<string, string>(),
            new ImdsOsProfile(user, computer, disablePassword), [.. keys.Select(k => new ImdsPublicKey(k, $"/home/{user}/.ssh/authorized_keys"))], null, null), []);

    private static OvfEnvironment Ovf(string user = "azureuser", string host = "vm1", string? password = null, bool disablePassword = true, params string[] keys) =>
        new(host, user, password is null ? null : new Secret(password), disablePassword, [.. keys.Select(k => new OvfPublicKey(null, "$HOME/.ssh/authorized_keys", k))], [], null, true, false, null);

    [Fact]
    public void Ovf_env_wins_for_user_password_and_host_name_and_keys_are_the_union_without_duplicates()
    {
        using var sandbox = new Sandbox();
        var data = Precedence.Merge(
            Imds("imdsuser", "imds-host", disablePassword: true, Keys.Web, Keys.Db),
            Ovf("ovfuser", "ovf-host", password: "Secret-1", disablePassword: false, Keys.Operator, Keys.Web),
            fallbackVmId: null);

        Assert.Equal("ovfuser", data.UserName);
        Assert.Equal("ovf-host", data.HostName);
        Assert.False(data.DisablePasswordAuthentication);
        Assert.Equal("Secret-1", data.Password!.Reveal());
        Assert.Equal("6c1f2b6e-0c2d-4e8f-9a7b-1d2e3f405162", data.VmId);
        Assert.Contains(data.Decisions, d => d.Contains("adminUsername 'imdsuser' differs from ovf-env.xml's 'ovfuser'; ovf-env.xml wins", StringComparison.Ordinal));
        Assert.Contains(data.Decisions, d => d.Contains("disablePasswordAuthentication=true differs", StringComparison.Ordinal));

        var plan = PlanBuilder.Build(data with { Keys = [.. data.Keys.Select(k => k with { Path = null })] }, Config, UserDatabase.Load(sandbox.System), null, sandbox.System);
        Assert.Equal([Keys.Operator, Keys.Web, Keys.Db], plan.Keys.Select(k => k.Key.ToLine()));
        Assert.Equal(["ovf-env.xml", "ovf-env.xml", "IMDS"], plan.Keys.Select(k => k.Source));
        Assert.DoesNotContain("Secret-1", plan.Describe(), StringComparison.Ordinal);
        Assert.DoesNotContain("Secret-1", data.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Imds_alone_gives_user_host_and_keys_and_no_password()
    {
        using var sandbox = new Sandbox();
        var data = Precedence.Merge(Imds(keys: [Keys.Web + "\r\n"]), null, null);
        var plan = PlanBuilder.Build(data, Config, UserDatabase.Load(sandbox.System), null, sandbox.System);

        Assert.True(plan.CreateUser);
        Assert.Equal("/home/azureuser", plan.Home);
        Assert.Equal(PasswordAction.Lock, plan.Password);
        Assert.False(plan.PasswordLogin);
        Assert.Equal(".ssh/authorized_keys", Assert.Single(plan.Keys).RelativePath);
        Assert.Equal("azureuser ALL=(ALL) NOPASSWD: ALL\n", plan.SudoersContent.Split('\n', 2)[1]);
        Assert.Contains("PasswordAuthentication no\n", plan.SshdDropInContent, StringComparison.Ordinal);
        Assert.Contains("KbdInteractiveAuthentication no\n", plan.SshdDropInContent, StringComparison.Ordinal);
        Assert.Contains("PermitRootLogin no\n", plan.SshdDropInContent, StringComparison.Ordinal);
        Assert.DoesNotContain("AllowUsers", plan.SshdDropInContent, StringComparison.Ordinal);
        Assert.DoesNotContain("AllowGroups", plan.SshdDropInContent, StringComparison.Ordinal);
    }

    [Fact]
    public void A_supplied_and_allowed_password_enables_password_login_and_sudo_asks_for_it()
    {
        using var sandbox = new Sandbox();
        var plan = PlanBuilder.Build(Precedence.Merge(null, Ovf(password: "pw", disablePassword: false, keys: Keys.Web), "id"), Config, UserDatabase.Load(sandbox.System), null, sandbox.System);

        Assert.Equal(PasswordAction.Set, plan.Password);
        Assert.True(plan.PasswordLogin);
        Assert.Contains("PasswordAuthentication yes\n", plan.SshdDropInContent, StringComparison.Ordinal);
        Assert.EndsWith("azureuser ALL=(ALL) ALL\n", plan.SudoersContent, StringComparison.Ordinal);
    }

    [Fact]
    public void Nothing_to_provision_from_is_refused()
    {
        var error = Assert.Throws<ProvisioningException>(() => Precedence.Merge(null, null, "id"));

        Assert.Equal("NoProvisioningData", error.Code);
    }

    [Theory]
    [InlineData("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDPkF5VHRonIwWDx4J8dlx4vadF5+3dWZok5Cb9jWB6b x;rm -rf /", "comment")]
    [InlineData("command=\"/bin/sh\" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDPkF5VHRonIwWDx4J8dlx4vadF5+3dWZok5Cb9jWB6b", "options")]
    [InlineData("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDPkF5VHRonIwWDx4J8dlx4vadF5+3dWZok5Cb9jWB6b\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJFg/BIQqU0lgnMOIP6ADbeMYZ+KorcO+kGQhOH7nwZz", "line break")]
    [InlineData("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDPkF5VHRonIwWDx4J8dlx4vadF5", "")]
    [InlineData("not a key at all", "")]
    public void Hostile_key_text_is_refused_before_anything_changes(string key, string why)
    {
        using var sandbox = new Sandbox();
        var data = Precedence.Merge(Imds(keys: key), null, null);

        var error = Assert.Throws<ProvisioningException>(() => PlanBuilder.Build(data, Config, UserDatabase.Load(sandbox.System), null, sandbox.System));

        Assert.Equal("keys", error.Step);
        Assert.Equal("InvalidKey", error.Code);
        Assert.Contains(why, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("$HOME/.ssh/authorized_keys", ".ssh/authorized_keys")]
    [InlineData("/home/azureuser/.ssh/authorized_keys", ".ssh/authorized_keys")]
    [InlineData("/srv/homes/azureuser/.ssh/authorized_keys", ".ssh/authorized_keys")]
    [InlineData("/home/azureuser/.ssh/./extra/../authorized_keys2", ".ssh/authorized_keys2")]
    [InlineData(null, ".ssh/authorized_keys")]
    public void Key_paths_resolve_inside_the_home(string? path, string expected) =>
        Assert.Equal(expected, PlanBuilder.ResolveKeyPath(path, "azureuser", "/home", "/srv/homes/azureuser"));

    [Theory]
    [InlineData("/root/.ssh/authorized_keys")]
    [InlineData("/home/azureuser/../root/.ssh/authorized_keys")]
    [InlineData("$HOME/../../etc/shadow")]
    [InlineData("/home/azureuser")]
    [InlineData(".ssh/authorized_keys")]
    [InlineData("/etc/ssh/authorized_keys")]
    public void Key_paths_outside_the_home_are_refused(string path)
    {
        var error = Assert.Throws<ProvisioningException>(() => PlanBuilder.ResolveKeyPath(path, "azureuser", "/home", "/home/azureuser"));

        Assert.Equal("KeyPathOutsideHome", error.Code);
    }

    [Fact]
    public void An_existing_user_is_kept_but_a_changed_uid_system_account_or_symlinked_home_is_refused()
    {
        using var sandbox = new Sandbox();
        sandbox.AddUser("azureuser", 1000);
        Directory.CreateDirectory(sandbox.PathOf("/home/azureuser"));
        var data = Precedence.Merge(Imds(keys: Keys.Web), null, null);

        var plan = PlanBuilder.Build(data, Config, UserDatabase.Load(sandbox.System), null, sandbox.System);
        Assert.False(plan.CreateUser);
        Assert.Equal(1000u, plan.ExistingUid);

        var previous = new ProvisioningState("old-vm", "azureuser", 1001, "/home/azureuser", [], null, DateTimeOffset.UnixEpoch);
        Assert.Equal("UidChanged", Assert.Throws<ProvisioningException>(() => PlanBuilder.Build(data, Config, UserDatabase.Load(sandbox.System), previous, sandbox.System)).Code);

        Assert.Equal("SystemAccount", Assert.Throws<ProvisioningException>(() =>
            PlanBuilder.Build(data with { UserName = "svc" }, Config, new UserDatabase([new PasswdEntry("svc", 999, 999, "/var/lib/svc", "/bin/sh")], 1000), null, sandbox.System)).Code);

        Directory.Delete(sandbox.PathOf("/home/azureuser"));
        Directory.CreateDirectory(sandbox.PathOf("/var/elsewhere"));
        File.CreateSymbolicLink(sandbox.PathOf("/home/azureuser"), sandbox.PathOf("/var/elsewhere"));
        Assert.Equal("SymlinkedHome", Assert.Throws<ProvisioningException>(() => PlanBuilder.Build(data, Config, UserDatabase.Load(sandbox.System), null, sandbox.System)).Code);
    }

    [Fact]
    public void A_new_user_whose_home_already_exists_is_refused()
    {
        using var sandbox = new Sandbox();
        Directory.CreateDirectory(sandbox.PathOf("/home/azureuser"));

        var error = Assert.Throws<ProvisioningException>(() => PlanBuilder.Build(Precedence.Merge(Imds(keys: Keys.Web), null, null), Config, UserDatabase.Load(sandbox.System), null, sandbox.System));

        Assert.Equal("HomeExists", error.Code);
    }

    [Fact]
    public void No_key_and_no_password_is_refused_because_nobody_could_log_in()
    {
        using var sandbox = new Sandbox();

        var error = Assert.Throws<ProvisioningException>(() => PlanBuilder.Build(Precedence.Merge(Imds(), null, null), Config, UserDatabase.Load(sandbox.System), null, sandbox.System));

        Assert.Equal("NoCredentials", error.Code);
    }

    [Theory]
    [InlineData("Root")]
    [InlineData("root")]
    [InlineData("../x")]
    public void A_bad_user_name_is_refused_with_the_user_step(string user)
    {
        using var sandbox = new Sandbox();

        var error = Assert.Throws<ProvisioningException>(() => PlanBuilder.Build(Precedence.Merge(Imds(user, keys: Keys.Web), null, null), Config, UserDatabase.Load(sandbox.System), null, sandbox.System));

        Assert.Equal("user", error.Step);
        Assert.Equal("InvalidUserName", error.Code);
        Assert.StartsWith("latchd: step 'user' failed (InvalidUserName): ", error.Description, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("127.0.0.1\tlocalhost\n", "vm1", "127.0.0.1\tlocalhost\n127.0.1.1\tvm1\n")]
    [InlineData("127.0.0.1 localhost\n127.0.1.1 old.example old\n::1 localhost\n", "web.contoso", "127.0.0.1 localhost\n127.0.1.1\tweb.contoso web\n::1 localhost\n")]
    public void Hosts_gets_a_127_0_1_1_line_for_the_new_name(string hosts, string name, string expected) =>
        Assert.Equal(expected, HostName.WithLoopbackName(hosts, name));
}
