using Latch.Emulator;

namespace Latch.Agent.Tests;

/// <summary>Runs latchd's command line in-process and captures what it printed.</summary>
internal static class AgentRun
{
    public static async Task<(int Status, string Out, string Error)> RunAsync(string[] args, string stdin = "")
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var status = await AgentCommandLine.RunAsync(args, new AgentStreams(new StringReader(stdin), output, error), cancellationToken: TestContext.Current.CancellationToken);
        return (status, output.ToString(), error.ToString());
    }

    /// <summary>The real emulator on 127.0.0.1:0 with one VM.</summary>
    public static Task<EmulatorHost> StartEmulatorAsync(VmDefinition vm) =>
        EmulatorHost.StartAsync(new EmulatorOptions
        {
            Scenario = new Scenario { Vms = [vm] },
            StateDirectory = Directory.CreateTempSubdirectory("latchd-emu-").FullName,
        }, TestContext.Current.CancellationToken);

    public const string ImdsJson = """
        {
          "compute": {
            "name": "vm1", "vmId": "6c1f2b6e-0c2d-4e8f-9a7b-1d2e3f405162", "location": "westeurope",
            "osProfile": { "adminUsername": "azureuser", "computerName": "vm1", "disablePasswordAuthentication": "true" },
            "publicKeys": [ { "keyData": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDPkF5VHRonIwWDx4J8dlx4vadF5+3dWZok5Cb9jWB6b web@test\r\n", "path": "/home/azureuser/.ssh/authorized_keys" } ]
          },
          "network": { "interface": [] }
        }
        """;

    public const string OvfEnv = """
        <?xml version="1.0" encoding="utf-8"?>
        <Environment xmlns="http://schemas.dmtf.org/ovf/environment/1" xmlns:oe="http://schemas.dmtf.org/ovf/environment/1" xmlns:wa="http://schemas.microsoft.com/windowsazure">
          <wa:ProvisioningSection><wa:Version>1.0</wa:Version>
            <LinuxProvisioningConfigurationSet xmlns="http://schemas.microsoft.com/windowsazure">
              <ConfigurationSetType>LinuxProvisioningConfiguration</ConfigurationSetType>
              <HostName>ovf-host</HostName><UserName>azureuser</UserName><UserPassword>Never-Printed-7</UserPassword>
              <DisableSshPasswordAuthentication>false</DisableSshPasswordAuthentication>
              <SSH><PublicKeys><PublicKey><Fingerprint>X</Fingerprint><Path>$HOME/.ssh/authorized_keys</Path>
                <Value>ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJFg/BIQqU0lgnMOIP6ADbeMYZ+KorcO+kGQhOH7nwZz operator@test</Value></PublicKey></PublicKeys></SSH>
            </LinuxProvisioningConfigurationSet>
          </wa:ProvisioningSection>
          <wa:PlatformSettingsSection><wa:Version>1.0</wa:Version><wa:PlatformSettings><wa:ProvisionGuestAgent>true</wa:ProvisionGuestAgent></wa:PlatformSettings></wa:PlatformSettingsSection>
        </Environment>
        """;
}
