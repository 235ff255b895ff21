using Latch.Azure.Http;
using Latch.Azure.Json;

namespace Latch.Azure;

/// <summary>
/// Read-only Azure Resource Manager calls Latch needs: list and get VMs, resolve a VM's addresses, read NSG rules.
/// Raw REST with source-generated JSON (Azure.ResourceManager is large and reflection-heavy). Thread-safe.
/// </summary>
public sealed class ArmClient : IDisposable
{
    /// <summary>The resource to ask a token for (managed identity <c>resource=</c>).</summary>
    public const string Resource = "https://management.azure.com/";

    private readonly ArmTransport _arm;

    /// <param name="getToken">Returns an ARM token (e.g. <c>ct =&gt; credential.GetTokenAsync(ArmClient.Resource, ct)</c>).</param>
    public ArmClient(ArmClientOptions options, Func<CancellationToken, ValueTask<AccessToken>> getToken) => _arm = new ArmTransport(options, getToken);

    /// <summary>Uses an Azure.Core credential (e.g. from Azure.Identity) for the token.</summary>
    public ArmClient(ArmClientOptions options, global::Azure.Core.TokenCredential credential)
        : this(options, TokenFrom(credential))
    {
    }

    internal static Func<CancellationToken, ValueTask<AccessToken>> TokenFrom(global::Azure.Core.TokenCredential credential)
    {
        ArgumentNullException.ThrowIfNull(credential);
        return async ct =>
        {
            var token = await credential.GetTokenAsync(new global::Azure.Core.TokenRequestContext([Resource + ".default"]), ct).ConfigureAwait(false);
            return new AccessToken(new Secret(token.Token), token.ExpiresOn);
        };
    }

    /// <summary>VMs of a subscription, or of one resource group when <paramref name="resourceGroup"/> is set (all pages).</summary>
    public async Task<IReadOnlyList<ArmVirtualMachine>> ListVirtualMachinesAsync(string subscriptionId, string? resourceGroup = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(subscriptionId);
        var scope = resourceGroup is null
            ? $"/subscriptions/{Escape(subscriptionId)}"
            : $"/subscriptions/{Escape(subscriptionId)}/resourceGroups/{Escape(resourceGroup)}";
        string? url = $"{scope}/providers/Microsoft.Compute/virtualMachines?api-version={_arm.Options.ComputeApiVersion}";
        var all = new List<ArmVirtualMachine>();
        for (var page = 1; url is not null; page++)
        {
            if (page > 1000)
            {
                throw new AzureRequestException("ARM list virtual machines returned more than 1000 pages; stopping.", status: null);
            }

            var list = await _arm.GetAsync("list virtual machines", url, AzureJsonContext.Default.ArmListWireVirtualMachineWire, cancellationToken).ConfigureAwait(false);
            all.AddRange((list.Value ?? []).Select(ToVirtualMachine));
            url = string.IsNullOrEmpty(list.NextLink) ? null : list.NextLink;
        }

        return all;
    }

    /// <summary>One VM with its instance view (power state), or null when ARM says it does not exist.</summary>
    public Task<ArmVirtualMachine?> GetVirtualMachineAsync(string subscriptionId, string resourceGroup, string name, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(subscriptionId);
        ArgumentException.ThrowIfNullOrEmpty(resourceGroup);
        ArgumentException.ThrowIfNullOrEmpty(name);
        var url = $"/subscriptions/{Escape(subscriptionId)}/resourceGroups/{Escape(resourceGroup)}/providers/Microsoft.Compute/virtualMachines/{Escape(name)}?$expand=instanceView&api-version={_arm.Options.ComputeApiVersion}";
        const string operation = "get virtual machine";
        return _arm.SendAsync(
            operation,
            HttpMethod.Get,
            url,
            null,
            response => response.Status == 404 && ArmTransport.DescribeError(response.Body).Code is "ResourceNotFound" or "NotFound" or null
                ? Attempt<ArmVirtualMachine?>.Success(null)
                : response.IsSuccess
                    ? Map(ArmTransport.Parse(operation, response, AzureJsonContext.Default.VirtualMachineWire))
                    : _arm.Failure<ArmVirtualMachine?>(operation, response),
            cancellationToken);

        static Attempt<ArmVirtualMachine?> Map(Attempt<VirtualMachineWire> parsed) =>
            parsed.RetryReason is { } reason ? Attempt<ArmVirtualMachine?>.Retry(reason) : Attempt<ArmVirtualMachine?>.Success(ToVirtualMachine(parsed.Value!));
    }

    /// <summary>The primary NIC's primary private address, its public address (if any) and the NIC's NSG.</summary>
    public async Task<ArmVmAddresses> GetAddressesAsync(ArmVirtualMachine vm, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(vm);
        var nicId = vm.PrimaryNetworkInterfaceId
            ?? throw new AzureRequestException($"ARM VM '{vm.Name}' has no network interface; it cannot be reached over the network.", status: null);
        var nic = await _arm.GetAsync("get network interface", $"{nicId}?api-version={_arm.Options.NetworkApiVersion}", AzureJsonContext.Default.NetworkInterfaceWire, cancellationToken).ConfigureAwait(false);
        var configs = nic.Properties?.IpConfigurations ?? [];
        var primary = configs.FirstOrDefault(c => c.Properties?.Primary == true) ?? configs.FirstOrDefault();
        var privateIp = primary?.Properties?.PrivateIpAddress
            ?? throw new AzureRequestException($"ARM network interface {nicId} of VM '{vm.Name}' has no private IP address.", status: null);
        string? publicIp = null;
        if (primary!.Properties!.PublicIpAddress?.Id is { Length: > 0 } pipId)
        {
            var pip = await _arm.GetAsync("get public IP address", $"{pipId}?api-version={_arm.Options.NetworkApiVersion}", AzureJsonContext.Default.PublicIpAddressWire, cancellationToken).ConfigureAwait(false);
            publicIp = string.IsNullOrEmpty(pip.Properties?.IpAddress) ? null : pip.Properties.IpAddress;
        }

        return new ArmVmAddresses(privateIp, publicIp, nicId, nic.Properties?.NetworkSecurityGroup?.Id);
    }

    /// <summary>An NSG's own rules followed by its default rules, each list in priority order.</summary>
    public async Task<IReadOnlyList<ArmSecurityRule>> GetSecurityRulesAsync(string networkSecurityGroupId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(networkSecurityGroupId);
        var nsg = await _arm.GetAsync("get network security group", $"{networkSecurityGroupId}?api-version={_arm.Options.NetworkApiVersion}", AzureJsonContext.Default.NetworkSecurityGroupWire, cancellationToken).ConfigureAwait(false);
        return [
            .. (nsg.Properties?.SecurityRules ?? []).Select(r => ToRule(r, isDefault: false)).OrderBy(r => r.Priority),
            .. (nsg.Properties?.DefaultSecurityRules ?? []).Select(r => ToRule(r, isDefault: true)).OrderBy(r => r.Priority),
        ];
    }

    internal static ArmVirtualMachine ToVirtualMachine(VirtualMachineWire wire)
    {
        var id = wire.Id ?? throw new AzureFormatException("ARM returned a virtual machine without 'id'.");
        var (subscription, resourceGroup) = ParseScope(id);
        var nics = wire.Properties?.NetworkProfile?.NetworkInterfaces ?? [];
        var statuses = wire.Properties?.InstanceView?.Statuses ?? [];
        var power = statuses.Select(s => s.Code).FirstOrDefault(c => c?.StartsWith("PowerState/", StringComparison.Ordinal) == true);
        return new ArmVirtualMachine(
            id,
            wire.Name ?? id[(id.LastIndexOf('/') + 1)..],
            subscription,
            resourceGroup,
            wire.Location,
            wire.Properties?.VmId,
            wire.Properties?.HardwareProfile?.VmSize,
            wire.Properties?.StorageProfile?.OsDisk?.OsType,
            wire.Properties?.OsProfile?.AdminUsername,
            wire.Properties?.ProvisioningState,
            power?["PowerState/".Length..],
            [.. nics.Select(n => n.Id).OfType<string>()],
            wire.Tags ?? new Dictionary<string, string>())
        {
            PrimaryNetworkInterfaceId = (nics.FirstOrDefault(n => n.Properties?.Primary == true) ?? nics.FirstOrDefault())?.Id,
        };
    }

    /// <summary>Subscription and resource group from <c>/subscriptions/{s}/resourceGroups/{rg}/…</c> (case-insensitive keys, as ARM ids are).</summary>
    internal static (string Subscription, string ResourceGroup) ParseScope(string id)
    {
        var parts = id.Split('/', StringSplitOptions.RemoveEmptyEntries);
        string? subscription = null, group = null;
        for (var i = 0; i + 1 < parts.Length; i++)
        {
            if (parts[i].Equals("subscriptions", StringComparison.OrdinalIgnoreCase))
            {
                subscription ??= parts[i + 1];
            }
            else if (parts[i].Equals("resourceGroups", StringComparison.OrdinalIgnoreCase))
            {
                group ??= parts[i + 1];
            }
        }

        return (subscription ?? throw new AzureFormatException($"ARM resource id '{id}' has no subscription."),
            group ?? throw new AzureFormatException($"ARM resource id '{id}' has no resource group."));
    }

    private static ArmSecurityRule ToRule(SecurityRuleWire rule, bool isDefault)
    {
        var p = rule.Properties;
        IReadOnlyList<string> sources = p?.SourceAddressPrefixes is { Count: > 0 } many ? many : p?.SourceAddressPrefix is { } one ? [one] : [];
        IReadOnlyList<string> ports = p?.DestinationPortRanges is { Count: > 0 } ranges ? ranges : p?.DestinationPortRange is { } range ? [range] : [];
        return new ArmSecurityRule(rule.Name ?? "", p?.Priority ?? 0, p?.Direction ?? "", p?.Access ?? "", p?.Protocol ?? "*", sources, p?.SourcePortRange, p?.DestinationAddressPrefix, ports, isDefault);
    }

    private static string Escape(string segment) => Uri.EscapeDataString(segment);

    public void Dispose() => _arm.Dispose();
}
