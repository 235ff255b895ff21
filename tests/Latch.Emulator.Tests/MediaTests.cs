using System.Diagnostics;
using System.Net;
using System.Text.Json;
using System.Xml.Linq;
using Latch.Testing;

namespace Latch.Emulator.Tests;

public sealed class MediaTests
{
    private static readonly XNamespace s_ovf = "http://schemas.dmtf.org/ovf/environment/1";
    private static readonly XNamespace s_wa = "http://schemas.microsoft.com/windowsazure";

    private static async Task<(string Ovf, string? Iso)> WriteMediaAsync(TestEmulator emulator, string vm)
    {
        using var response = await emulator.ControlAsync(HttpMethod.Post, $"/vms/{vm}/media");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        var iso = json.RootElement.GetProperty("isoPath");
        return (json.RootElement.GetProperty("ovfEnvPath").GetString()!, iso.ValueKind == JsonValueKind.Null ? null : iso.GetString());
    }

    [Fact]
    public async Task Ovf_env_parses_hardened_and_holds_every_key_in_the_azure_namespaces()
    {
        await using var emulator = await TestEmulator.StartAsync();

        var (ovfPath, _) = await WriteMediaAsync(emulator, "vm-web");

        Assert.StartsWith(emulator.StateDirectory, ovfPath, StringComparison.Ordinal);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(ovfPath));
        var document = WireServerTests.ParseHardened(await File.ReadAllTextAsync(ovfPath, TestContext.Current.CancellationToken));
        Assert.Equal(s_ovf + "Environment", document.Root!.Name);
        var section = document.Root.Element(s_wa + "ProvisioningSection")!;
        Assert.Equal("1.0", section.Element(s_wa + "Version")!.Value);
        var set = section.Element(s_wa + "LinuxProvisioningConfigurationSet")!;
        Assert.Equal("vm-web", set.Element(s_wa + "HostName")!.Value);
        Assert.Equal("azureuser", set.Element(s_wa + "UserName")!.Value);
        Assert.Equal(TestEmulator.Password, set.Element(s_wa + "UserPassword")!.Value);
        Assert.Equal("false", set.Element(s_wa + "DisableSshPasswordAuthentication")!.Value);
        Assert.Equal("I2Nsb3VkLWNvbmZpZwo=", set.Element(s_wa + "CustomData")!.Value);
        var keys = set.Element(s_wa + "SSH")!.Element(s_wa + "PublicKeys")!.Elements(s_wa + "PublicKey").ToArray();
        Assert.Equal([TestEmulator.WebKey, TestEmulator.OperatorKey], keys.Select(k => k.Element(s_wa + "Value")!.Value));
        Assert.All(keys, k => Assert.Matches("^[0-9A-F]{40}$", k.Element(s_wa + "Fingerprint")!.Value));
        Assert.All(keys, k => Assert.Equal("/home/azureuser/.ssh/authorized_keys", k.Element(s_wa + "Path")!.Value));
        Assert.NotNull(set.Element(s_wa + "SSH")!.Element(s_wa + "KeyPairs"));
        var platform = document.Root.Element(s_wa + "PlatformSettingsSection")!.Element(s_wa + "PlatformSettings")!;
        Assert.Equal("true", platform.Element(s_wa + "ProvisionGuestAgent")!.Value);
        Assert.Equal("false", platform.Element(s_wa + "PreprovisionedVm")!.Value);
    }

    [Fact]
    public async Task Password_goes_only_into_the_file_never_into_a_log_or_the_control_api()
    {
        await using var emulator = await TestEmulator.StartAsync();

        await WriteMediaAsync(emulator, "vm-web");
        using var vms = await emulator.ControlAsync(HttpMethod.Get, "/vms");

        Assert.DoesNotContain(TestEmulator.Password, emulator.Logs.All, StringComparison.Ordinal);
        Assert.DoesNotContain(TestEmulator.Password, await vms.Content.ReadAsStringAsync(TestContext.Current.CancellationToken), StringComparison.Ordinal);
        Assert.Contains(emulator.Logs.Lines, l => l.Contains("provisioning media for vm-web", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Vm_without_password_gets_no_user_password_element()
    {
        await using var emulator = await TestEmulator.StartAsync();

        var (ovfPath, _) = await WriteMediaAsync(emulator, "vm-db");

        var document = XDocument.Parse(await File.ReadAllTextAsync(ovfPath, TestContext.Current.CancellationToken));
        Assert.Empty(document.Descendants(s_wa + "UserPassword"));
        Assert.Equal("true", document.Descendants(s_wa + "DisableSshPasswordAuthentication").Single().Value);
    }

    [Fact]
    public async Task Iso_image_holds_the_same_ovf_env()
    {
        Requires.Tool("genisoimage");
        var isoinfo = Requires.Tool("isoinfo", "genisoimage");
        await using var emulator = await TestEmulator.StartAsync();

        var (ovfPath, isoPath) = await WriteMediaAsync(emulator, "vm-web");

        Assert.NotNull(isoPath);
        Assert.True(File.Exists(isoPath));
        var start = new ProcessStartInfo(isoinfo) { RedirectStandardOutput = true, ArgumentList = { "-J", "-i", isoPath, "-x", "/ovf-env.xml" } };
        using var process = Process.Start(start)!;
        var fromIso = await process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        await process.WaitForExitAsync(TestContext.Current.CancellationToken);
        Assert.Equal(0, process.ExitCode);
        Assert.Equal(await File.ReadAllTextAsync(ovfPath, TestContext.Current.CancellationToken), fromIso);
    }
}
