namespace Latch.Emulator;

// The emulated Azure world, as loaded from a scenario file (TOML or JSON; see examples/demo.toml).
// These records are the contract between the emulator's endpoint groups: IMDS/WireServer/media read Vms,
// Key Vault reads Vaults, ARM reads Vms and runs scripts through VmDefinition.Exec.

/// <summary>The whole scenario: one subscription holding VMs and key vaults.</summary>
public sealed record Scenario
{
    public string SubscriptionId { get; init; } = "00000000-0000-4000-8000-000000000001";
    public string TenantId { get; init; } = "00000000-0000-4000-8000-0000000000aa";
    public IReadOnlyList<VmDefinition> Vms { get; init; } = [];
    public IReadOnlyList<VaultDefinition> Vaults { get; init; } = [];
    /// <summary>Operator identities that may get tokens from the emulator's Entra token endpoint (client credentials).</summary>
    public IReadOnlyList<ServicePrincipalDefinition> ServicePrincipals { get; init; } = [];
}

/// <summary>One emulated VM: what IMDS, the WireServer, ovf-env.xml and ARM say about it.</summary>
public sealed record VmDefinition
{
    public required string Name { get; init; }
    public string ResourceGroup { get; init; } = "latch-rg";
    public string Location { get; init; } = "westeurope";
    /// <summary>The VM id (a GUID string), as IMDS compute.vmId.</summary>
    public string VmId { get; init; } = Guid.NewGuid().ToString();
    public string VmSize { get; init; } = "Standard_B1s";
    public string AdminUsername { get; init; } = "azureuser";
    public string? ComputerName { get; init; }
    public bool DisablePasswordAuthentication { get; init; } = true;
    /// <summary>Clear-text admin password for ovf-env.xml (never logged); null when none.</summary>
    public string? AdminPassword { get; init; }
    public IReadOnlyList<VmPublicKey> PublicKeys { get; init; } = [];
    /// <summary>ovf-env.xml SSH/KeyPairs: private keys the fabric would place from a certificate (thumbprint + path).</summary>
    public IReadOnlyList<VmKeyPair> KeyPairs { get; init; } = [];
    public IReadOnlyDictionary<string, string> Tags { get; init; } = new Dictionary<string, string>();
    /// <summary>Base64 custom data, as given to ovf-env.xml CustomData; null when none.</summary>
    public string? CustomData { get; init; }
    public string PrivateIpAddress { get; init; } = "169.254.1.2";
    public string? PublicIpAddress { get; init; }
    /// <summary>The identity principal id of the VM's system-assigned managed identity (used by Key Vault access).</summary>
    public string PrincipalId { get; init; } = Guid.NewGuid().ToString();
    /// <summary>
    /// Command prefix that runs a program inside this VM, e.g. ["ip","netns","exec","vm1","chroot","/var/cache/latch/vm1"].
    /// ARM run-command appends ["/bin/bash","-c",script]. Empty: scripts run on the emulator's host (tests only).
    /// </summary>
    public IReadOnlyList<string> Exec { get; init; } = [];
    /// <summary>Host path of the admin user's authorized_keys, used by hostile-agent mode; null: derived via Exec.</summary>
    public string? AuthorizedKeysHostPath { get; init; }
    /// <summary>The IP address the emulator recognises as this VM's requests (IMDS/WireServer); null matches any.</summary>
    public string? SourceAddress { get; init; }
    /// <summary>The primary NIC's MAC address as IMDS prints it (12 hex digits); null: derived from the VM name.</summary>
    public string? MacAddress { get; init; }
    /// <summary>Base64 user data, as IMDS compute.userData; null when none.</summary>
    public string? UserData { get; init; }
    /// <summary>Inbound rules of the VM's network security group; null: Azure's portal default for Linux (SSH from anywhere).</summary>
    public IReadOnlyList<SecurityRuleDefinition>? SecurityRules { get; init; }
}

/// <summary>One NSG security rule, as ARM's securityRules[].properties describe it.</summary>
public sealed record SecurityRuleDefinition
{
    public required string Name { get; init; }
    public int Priority { get; init; } = 300;
    public string Direction { get; init; } = "Inbound";
    public string Access { get; init; } = "Allow";
    public string Protocol { get; init; } = "Tcp";
    public string SourceAddressPrefix { get; init; } = "*";
    public string SourcePortRange { get; init; } = "*";
    public string DestinationAddressPrefix { get; init; } = "*";
    public string DestinationPortRange { get; init; } = "22";
}

/// <summary>An app registration an operator signs in with (client credentials) at the emulator's Entra endpoint.</summary>
public sealed record ServicePrincipalDefinition
{
    public required string ClientId { get; init; }
    /// <summary>The client secret (never logged).</summary>
    public required string ClientSecret { get; init; }
    /// <summary>The principal (object) id tokens carry as oid, used in AllowedPrincipals; null: the client id.</summary>
    public string? PrincipalId { get; init; }
}

public sealed record VmPublicKey(string KeyData, string Path);

/// <summary>One ovf-env.xml <c>KeyPair</c>: the certificate's SHA-1 thumbprint (40 hex digits) and where the private key goes.</summary>
public sealed record VmKeyPair(string Fingerprint, string Path);

/// <summary>One Key Vault and who may read or write it.</summary>
public sealed record VaultDefinition
{
    public required string Name { get; init; }
    public string ResourceGroup { get; init; } = "latch-rg";
    /// <summary>Principal ids (VM managed identities, operators) allowed to use the vault; others get 403.</summary>
    public IReadOnlyList<string> AllowedPrincipals { get; init; } = [];
    public IReadOnlyList<SecretDefinition> Secrets { get; init; } = [];
}

public sealed record SecretDefinition
{
    public required string Name { get; init; }
    public required string Value { get; init; }
    public string? ContentType { get; init; }
    public bool Enabled { get; init; } = true;
    public DateTimeOffset? Expires { get; init; }
    public DateTimeOffset? NotBefore { get; init; }
    public IReadOnlyDictionary<string, string> Tags { get; init; } = new Dictionary<string, string>();
}
