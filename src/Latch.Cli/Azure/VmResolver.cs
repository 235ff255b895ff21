using System.Text.Json;
using Latch.Azure;
using Latch.Cli.Config;
using Latch.Cli.Keys;

namespace Latch.Cli.Azure;

/// <summary>
/// Finds a VM by name: <c>-g</c>, then <c>[vm.NAME] resource_group</c>, then the name cache, then a subscription-wide
/// list. The cache (<c>~/.cache/latch/vms.json</c>) keeps stable facts (name → resource id and resource group) and
/// what the last connect used (address, user's key), which only lets the next connect start its key check early
/// (<see cref="Sync.EarlyCheck"/>). A cached address is never a target on its own: a deallocated VM can come back with
/// another dynamic public IP, so the address always comes from ARM and the early answer counts only when they agree.
/// </summary>
internal sealed class VmResolver(CliContext cli, AzureSession azure)
{
    private readonly Lock _gate = new();
    private List<CachedVm>? _cache;

    public async Task<ArmVirtualMachine> ResolveAsync(string name, string? resourceGroup, CancellationToken cancellationToken = default)
    {
        try
        {
            return await ResolveOnceAsync(name, resourceGroup, cancellationToken).ConfigureAwait(false);
        }
        catch (CliException e) when (e.ExitCode is ExitCodes.NotFound or ExitCodes.Auth && azure.SubscriptionFromCache)
        {
            // the subscription remembered from an earlier run may be gone or no longer ours: list again, once
            cli.Detail($"the cached subscription did not work ({e.Message}); listing subscriptions again");
            azure.ForgetCachedSubscription();
            return await ResolveOnceAsync(name, resourceGroup, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task<ArmVirtualMachine> ResolveOnceAsync(string name, string? resourceGroup, CancellationToken cancellationToken)
    {
        var subscription = await azure.GetSubscriptionAsync(cancellationToken).ConfigureAwait(false);
        var group = resourceGroup ?? cli.Config.VmString(name, "resource_group");
        if (group is null && Cached(name, subscription) is { } cached)
        {
            group = cached.ResourceGroup;
        }

        if (group is not null)
        {
            var vm = await CallAsync(() => azure.Arm.GetVirtualMachineAsync(subscription, group, name, cancellationToken)).ConfigureAwait(false);
            if (vm is not null)
            {
                Remember(vm);
                return vm;
            }

            if (resourceGroup is not null)
            {
                throw new CliException(ExitCodes.NotFound, $"VM '{name}' was not found in resource group '{resourceGroup}' (subscription {subscription}). Check the name with 'latch vm list -g {resourceGroup}'.");
            }

            Forget(name);
        }

        var all = await ListAsync(null, cancellationToken).ConfigureAwait(false);
        var matches = all.Where(v => string.Equals(v.Name, name, StringComparison.OrdinalIgnoreCase)).ToList();
        return matches.Count switch
        {
            0 => throw new CliException(ExitCodes.NotFound, $"no VM named '{name}' in subscription {subscription}. 'latch vm list' shows the VMs latch can see."),
            1 => await ReloadAsync(matches[0], cancellationToken).ConfigureAwait(false),
            _ => throw new CliException(ExitCodes.NotFound, $"{matches.Count} VMs are named '{name}' (resource groups {string.Join(", ", matches.Select(m => m.ResourceGroup))}); pick one with -g RESOURCE_GROUP."),
        };
    }

    private async Task<ArmVirtualMachine> ReloadAsync(ArmVirtualMachine listed, CancellationToken cancellationToken)
    {
        // the list has no instance view; remember the VM and return it with its power state
        var vm = await CallAsync(() => azure.Arm.GetVirtualMachineAsync(listed.SubscriptionId, listed.ResourceGroup, listed.Name, cancellationToken)).ConfigureAwait(false) ?? listed;
        Remember(vm);
        return vm;
    }

    public async Task<IReadOnlyList<ArmVirtualMachine>> ListAsync(string? resourceGroup, CancellationToken cancellationToken = default)
    {
        var subscription = await azure.GetSubscriptionAsync(cancellationToken).ConfigureAwait(false);
        var vms = await CallAsync(() => azure.Arm.ListVirtualMachinesAsync(subscription, resourceGroup, cancellationToken)).ConfigureAwait(false);
        foreach (var vm in vms)
        {
            Remember(vm, save: false);
        }

        Save();
        return vms;
    }

    /// <summary>
    /// <see cref="ResolveAsync"/>, then the VM's addresses. When the cache names the VM's primary NIC (a resource id,
    /// stable for the VM's life), the NIC request starts alongside the VM's instead of after it: one ARM round trip
    /// less. The addresses still come from ARM in this run, and are used only when the VM's NIC is the cached one.
    /// </summary>
    public async Task<(ArmVirtualMachine Vm, ArmVmAddresses Addresses)> ResolveWithAddressesAsync(string name, string? resourceGroup, CancellationToken cancellationToken = default)
    {
        var subscription = await azure.GetSubscriptionAsync(cancellationToken).ConfigureAwait(false);
        var group = resourceGroup ?? cli.Config.VmString(name, "resource_group");
        Task<ArmVmAddresses>? early = null;
        string? earlyNic = null;
        if (Cached(name, subscription) is { NetworkInterfaceId: { Length: > 0 } nic } cached
            && (group is null || string.Equals(cached.ResourceGroup, group, StringComparison.OrdinalIgnoreCase)))
        {
            var known = new ArmVirtualMachine(cached.Id, cached.Name, cached.SubscriptionId, cached.ResourceGroup, null, null, null, null, cached.AdminUsername, null, null, [nic], new Dictionary<string, string>())
            {
                PrimaryNetworkInterfaceId = nic,
            };
            earlyNic = nic;
            early = azure.Arm.GetAddressesAsync(known, cancellationToken);
        }

        ArmVirtualMachine vm;
        try
        {
            vm = await ResolveAsync(name, resourceGroup, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            Observe(early);
            throw;
        }

        if (early is not null)
        {
            if (string.Equals(vm.PrimaryNetworkInterfaceId, earlyNic, StringComparison.OrdinalIgnoreCase))
            {
                try
                {
                    return (vm, await early.ConfigureAwait(false));
                }
                catch (AzureRequestException e)
                {
                    cli.Detail($"the early NIC request failed ({e.Message}); asking again");
                }
            }
            else
            {
                cli.Detail($"VM '{vm.Name}' has another NIC than the cached one; asking for its addresses");
                Observe(early);
            }
        }

        return (vm, await GetAddressesAsync(vm, cancellationToken).ConfigureAwait(false));
    }

    private static void Observe(Task? task) => task?.ContinueWith(t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);

    public Task<ArmVmAddresses> GetAddressesAsync(ArmVirtualMachine vm, CancellationToken cancellationToken = default) =>
        CallAsync(() => azure.Arm.GetAddressesAsync(vm, cancellationToken));

    /// <summary>Runs an ARM call and turns its failure into a CLI error with advice.</summary>
    public static async Task<T> CallAsync<T>(Func<Task<T>> call)
    {
        try
        {
            return await call().ConfigureAwait(false);
        }
        catch (AzureRequestException e)
        {
            throw Describe(e);
        }
    }

    public static CliException Describe(AzureRequestException e) => e.Status switch
    {
        401 => new CliException(ExitCodes.Auth, $"Azure refused the token: {e.Message}", e),
        403 => new CliException(ExitCodes.Auth, $"permission denied: {e.Message}. The identity needs at least 'Reader' on the VM (and 'Virtual Machine Contributor' to sync keys by run-command).", e),
        404 => new CliException(ExitCodes.NotFound, e.Message, e),
        _ => new CliException(ExitCodes.Azure, e.Message, e),
    };

    private CachedVm? Cached(string name, string subscription)
    {
        lock (_gate)
        {
            _cache ??= Load();
            return _cache.FirstOrDefault(v => string.Equals(v.Name, name, StringComparison.OrdinalIgnoreCase)
                && string.Equals(v.SubscriptionId, subscription, StringComparison.OrdinalIgnoreCase));
        }
    }

    private void Remember(ArmVirtualMachine vm, bool save = true)
    {
        var entry = new CachedVm(vm.Name, vm.Id, vm.ResourceGroup, vm.SubscriptionId, vm.AdminUsername, vm.PrimaryNetworkInterfaceId);
        lock (_gate)
        {
            _cache ??= Load();
            // the last connect's facts stay with an unchanged VM (they are checked against ARM before any use)
            if (_cache.FirstOrDefault(v => string.Equals(v.Id, vm.Id, StringComparison.OrdinalIgnoreCase)) is { } known
                && known with { SshHost = null, KeyLine = null, IdentityFile = null, KeyFromVault = null, EarlyCheckRestsUntil = null } == entry)
            {
                entry = known;
            }
            if (save && _cache.Contains(entry))
            {
                return; // nothing new: no rewrite of the file on every connect
            }

            _cache.RemoveAll(v => string.Equals(v.Id, vm.Id, StringComparison.OrdinalIgnoreCase)
                || (string.Equals(v.Name, vm.Name, StringComparison.OrdinalIgnoreCase) && string.Equals(v.SubscriptionId, vm.SubscriptionId, StringComparison.OrdinalIgnoreCase)));
            _cache.Add(entry);
        }

        if (save)
        {
            Save();
        }
    }

    /// <summary>Remembers what this connect used, for the next one's early key check (a Key Vault private key: nothing).</summary>
    public void RememberConnect(ArmVirtualMachine vm, string host, KeyMaterial key, bool hostKeyRefused)
    {
        lock (_gate)
        {
            _cache ??= Load();
            if (_cache.FirstOrDefault(v => string.Equals(v.Id, vm.Id, StringComparison.OrdinalIgnoreCase)) is not { } known)
            {
                return;
            }

            var updated = known with
            {
                SshHost = key.PrivateKey is null ? host : null,
                KeyLine = key.PrivateKey is null ? key.PublicLine : null,
                IdentityFile = key.IdentityFile,
                KeyFromVault = key.Origin.StartsWith("Key Vault", StringComparison.Ordinal),
                EarlyCheckRestsUntil = hostKeyRefused ? cli.Time.GetUtcNow() + Sync.EarlyCheck.RestAfterHostKeyRefusal : known.EarlyCheckRestsUntil,
            };
            if (updated == known)
            {
                return;
            }

            _cache[_cache.IndexOf(known)] = updated;
        }

        Save();
    }

    /// <summary>The VM cache as stored (empty when missing or unreadable).</summary>
    public static List<CachedVm> LoadCache(CliContext cli)
    {
        try
        {
            if (File.Exists(cli.Paths.VmCache) && JsonSerializer.Deserialize(File.ReadAllBytes(cli.Paths.VmCache), CliJsonContext.Default.VmCacheFile) is { Version: 1 } file)
            {
                return file.Vms;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            cli.Detail($"ignoring the VM cache {cli.Paths.VmCache}: {e.Message}");
        }

        return [];
    }

    private void Forget(string name)
    {
        lock (_gate)
        {
            _cache ??= Load();
            _cache.RemoveAll(v => string.Equals(v.Name, name, StringComparison.OrdinalIgnoreCase));
        }

        Save();
    }

    private List<CachedVm> Load() => LoadCache(cli);

    private void Save()
    {
        string json;
        lock (_gate)
        {
            if (_cache is null)
            {
                return;
            }

            json = JsonSerializer.Serialize(new VmCacheFile(1, _cache), CliJsonContext.Default.VmCacheFile);
        }

        try
        {
            LatchPaths.WritePrivateFile(cli.Paths.VmCache, json);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            cli.Detail($"could not write the VM cache {cli.Paths.VmCache}: {e.Message}");
        }
    }
}
