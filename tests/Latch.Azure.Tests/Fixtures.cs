namespace Latch.Azure.Tests;

/// <summary>Wire documents shaped like the public fixtures described in azure-wire.md (our own values).</summary>
internal static class Fixtures
{
    public const string ImdsInstance = """
        {
          "compute": {
            "azEnvironment": "AzurePublicCloud",
            "location": "westeurope",
            "name": "latch-vm1",
            "osProfile": { "adminUsername": "azureuser", "computerName": "latch-vm1", "disablePasswordAuthentication": "true" },
            "publicKeys": [
              { "keyData": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFirstKeyFirstKeyFirstKeyFirstKeyFirstKey01 alice@laptop\r\n", "path": "/home/azureuser/.ssh/authorized_keys" },
              { "keyData": "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQSecond\nKey bob@desk\n", "path": "/home/azureuser/.ssh/authorized_keys" }
            ],
            "resourceGroupName": "latch-rg",
            "subscriptionId": "11111111-2222-3333-4444-555555555555",
            "tags": "env:test;owner:ops",
            "tagsList": [ { "name": "env", "value": "test" }, { "name": "owner", "value": "ops:team" } ],
            "userData": "I2Nsb3VkLWNvbmZpZw==",
            "customData": "",
            "vmId": "0b5f7a8e-1c3d-4e5f-8a9b-0c1d2e3f4a5b",
            "vmSize": "Standard_B2s",
            "someFutureField": { "nested": [1, 2, 3] }
          },
          "network": {
            "interface": [
              {
                "ipv4": {
                  "ipAddress": [ { "privateIpAddress": "10.1.0.4", "publicIpAddress": "20.30.40.50" } ],
                  "subnet": [ { "address": "10.1.0.0", "prefix": "24" } ]
                },
                "ipv6": { "ipAddress": [] },
                "macAddress": "000D3A123456"
              }
            ]
          }
        }
        """;

    public const string Versions = "<?xml version=\"1.0\" encoding=\"utf-8\"?><Versions><Preferred><Version>2012-11-30</Version></Preferred><Supported><Version>2010-12-15</Version><Version>2010-28-10</Version></Supported></Versions>";

    public static string GoalState(int incarnation = 1, bool withRoleInstance = true) => $"""
        <?xml version="1.0" encoding="utf-8"?>
        <GoalState xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:noNamespaceSchemaLocation="goalstate10.xsd">
          <Version>2012-11-30</Version>
          <Incarnation>{incarnation}</Incarnation>
          <Machine><ExpectedState>Started</ExpectedState><StopRolesDeadlineHint>300000</StopRolesDeadlineHint></Machine>
          <Container>
            <ContainerId>9e2a6f1c-0d4b-4f3e-9a8c-7b6d5e4f3a2b</ContainerId>
            {(withRoleInstance ? """
            <RoleInstanceList>
              <RoleInstance>
                <InstanceId>4c3b2a19-8f7e-4d6c-b5a4-938271605f4e.latch-vm1</InstanceId>
                <State>Started</State>
                <Configuration>
                  <HostingEnvironmentConfig>http://168.63.129.16:80/machine/x?comp=config&amp;type=hostingEnvironmentConfig&amp;incarnation=1</HostingEnvironmentConfig>
                  <SharedConfig>http://168.63.129.16:80/machine/x?comp=config&amp;type=sharedConfig&amp;incarnation=1</SharedConfig>
                  <ExtensionsConfig>http://168.63.129.16:80/machine/x?comp=config&amp;type=extensionsConfig&amp;incarnation=1</ExtensionsConfig>
                  <FullConfig>http://168.63.129.16:80/machine/x?comp=config&amp;type=fullConfig&amp;incarnation=1</FullConfig>
                  <Certificates>http://168.63.129.16:80/machine/x?comp=certificates&amp;incarnation=1</Certificates>
                  <ConfigName>4c3b2a19.0.4c3b2a19.latch-vm1.1.xml</ConfigName>
                </Configuration>
              </RoleInstance>
            </RoleInstanceList>
            """ : "")}
          </Container>
        </GoalState>
        """;

    /// <summary>An ovf-env.xml laid out like waagent's fixture, with two public keys and a platform section.</summary>
    public const string OvfEnv = """
        <?xml version="1.0" encoding="utf-8"?>
        <Environment xmlns="http://schemas.dmtf.org/ovf/environment/1" xmlns:oe="http://schemas.dmtf.org/ovf/environment/1" xmlns:wa="http://schemas.microsoft.com/windowsazure" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
          <wa:ProvisioningSection>
            <wa:Version>1.0</wa:Version>
            <LinuxProvisioningConfigurationSet xmlns="http://schemas.microsoft.com/windowsazure" xmlns:i="http://www.w3.org/2001/XMLSchema-instance">
              <ConfigurationSetType>LinuxProvisioningConfiguration</ConfigurationSetType>
              <HostName>latch-vm1</HostName>
              <UserName>azureuser</UserName>
              <UserPassword>Hunter2-Correct-Horse</UserPassword>
              <DisableSshPasswordAuthentication>true</DisableSshPasswordAuthentication>
              <SSH>
                <PublicKeys>
                  <PublicKey>
                    <Fingerprint>EB0C0AB4B2D5FC35F2F0658D19F44C8283E2DD62</Fingerprint>
                    <Path>$HOME/azureuser/.ssh/authorized_keys</Path>
                    <Value>ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFirstKey alice@laptop</Value>
                  </PublicKey>
                  <PublicKey>
                    <Fingerprint>0A1B2C3D4E5F60718293A4B5C6D7E8F901234567</Fingerprint>
                    <Path>$HOME/azureuser/.ssh/authorized_keys</Path>
                    <Value>ssh-rsa AAAAB3NzaC1yc2EAAAADAQABSecondKey bob@desk</Value>
                  </PublicKey>
                </PublicKeys>
                <KeyPairs>
                  <KeyPair>
                    <Fingerprint>EB0C0AB4B2D5FC35F2F0658D19F44C8283E2DD62</Fingerprint>
                    <Path>$HOME/azureuser/.ssh/id_rsa</Path>
                  </KeyPair>
                </KeyPairs>
              </SSH>
              <CustomData>I2Nsb3VkLWNvbmZpZwpydW5jbWQ6IFtbdHJ1ZV1d</CustomData>
            </LinuxProvisioningConfigurationSet>
          </wa:ProvisioningSection>
          <wa:PlatformSettingsSection>
            <wa:Version>1.0</wa:Version>
            <wa:PlatformSettings>
              <wa:KmsServerHostname>kms.core.windows.net</wa:KmsServerHostname>
              <wa:ProvisionGuestAgent>true</wa:ProvisionGuestAgent>
              <wa:GuestAgentPackageName xsi:nil="true" />
              <wa:PreprovisionedVm>false</wa:PreprovisionedVm>
            </wa:PlatformSettings>
          </wa:PlatformSettingsSection>
        </Environment>
        """;
}
