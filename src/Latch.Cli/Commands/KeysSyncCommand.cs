using System.CommandLine;
using System.Text.Json;
using Latch.Azure;
using Latch.Cli.Azure;
using Latch.Cli.Keys;
using Latch.Cli.Ssh;
using Latch.Cli.Sync;
using Spectre.Console;

namespace Latch.Cli.Commands;

/// <summary>
/// <c>latch keys sync VM…|--all</c>: sync without connecting, at most <c>--parallel</c> VMs at a time. A progress bar
/// on a terminal, one plain line per VM when piped, one JSON report with <c>--json</c>. Exit 7 when any VM failed.
/// </summary>
internal static class KeysSyncCommand
{
    /// <summary>
    /// 32 run-commands in flight: one takes tens of seconds on Azure, so roughly one starts per second — near Compute's
    /// per-subscription budget for VM writes, which a run-command POST draws on (UpdateVM3Min: 240 per 3 minutes,
    /// UpdateVM30Min: 1,200 per 30 minutes, per subscription and region, in its x-ms-ratelimit-remaining-resource header). More in flight only
    /// meets 429s sooner; the emulator, without that limit, takes --parallel up to <see cref="MaxParallel"/>.
    /// </summary>
    public const int DefaultParallel = 32;

    public const int MaxParallel = 1024;

    public static Command Create(CliStreams streams, GlobalOptions globals)
    {
        var vms = new Argument<string[]>("VM") { Description = "VM names", Arity = ArgumentArity.ZeroOrMore };
        var all = new Option<bool>("--all") { Description = "Every Linux VM in the subscription (or in -g)" };
        var group = SharedOptions.ResourceGroup();
        var user = SharedOptions.User();
        var method = SharedOptions.SyncMethod();
        var timeout = SharedOptions.SyncTimeout();
        var parallel = new Option<int>("--parallel") { Description = $"VMs synced at the same time (1-{MaxParallel})", DefaultValueFactory = _ => DefaultParallel };
        var json = SharedOptions.Json();
        var dryRun = SharedOptions.DryRun();
        var identity = SharedOptions.IdentityFile();
        var command = new Command("sync", "Put your key on VMs without connecting (one round trip per VM)");
        command.Arguments.Add(vms);
        foreach (var option in (Option[])[all, group, user, method, timeout, parallel, json, dryRun, identity])
        {
            command.Options.Add(option);
        }

        command.SetAction((parse, ct) => CommandRunner.RunAsync(streams, globals, parse, (cli, token) => RunAsync(
            cli, parse.GetValue(vms) ?? [], parse.GetValue(all), parse.GetValue(group), parse.GetValue(user), parse.GetValue(method), parse.GetValue(timeout),
            Math.Clamp(parse.GetValue(parallel), 1, MaxParallel), parse.GetValue(json), parse.GetValue(dryRun), parse.GetValue(identity), token), ct));
        return command;
    }

    public static async Task<int> RunAsync(
        CliContext cli, IReadOnlyList<string> names, bool all, string? group, string? user, string? method, int? timeoutSeconds,
        int parallel, bool json, bool dryRun, string? identityFile, CancellationToken cancellationToken)
    {
        if (names.Count == 0 && !all)
        {
            throw new CliException(ExitCodes.UsageOrIo, "name one or more VMs, or pass --all.");
        }

        using var azure = await AzureSession.CreateAsync(cli, cancellationToken).ConfigureAwait(false);
        var resolver = new VmResolver(cli, azure);
        var targets = await ResolveAllAsync(cli, resolver, names, all, group, parallel, cancellationToken).ConfigureAwait(false);
        var keys = new KeySource(cli, azure, identityFile);
        var syncer = new KeySyncer(cli, azure, CommandRunner.Audit(cli));
        var timeout = CommandRunner.SyncTimeout(cli, timeoutSeconds);
        var results = new SyncResult[targets.Count];

        async Task SyncOneAsync(int index, CancellationToken ct)
        {
            var vm = targets[index];
            var vmMethod = CommandRunner.Method(cli, method, vm.Name);
            try
            {
                var key = await keys.GetAsync(vm.Name, ct).ConfigureAwait(false);
                var vmUser = CommandRunner.User(cli, user, vm.Name, vm);
                SshTarget? ssh = null;
                if (vmMethod is KeySyncer.Auto or KeySyncer.Ssh)
                {
                    var addresses = await resolver.GetAddressesAsync(vm, ct).ConfigureAwait(false);
                    ssh = new SshTarget(CommandRunner.Host(cli, addresses), CommandRunner.Port(cli), vmUser, key.IdentityFile, []);
                }

                results[index] = await syncer.SyncAsync(new SyncTarget(vm.Name, vm.ResourceGroup, vm.Id, vmUser, ssh), key, vmMethod, timeout, dryRun, "keys sync", ct).ConfigureAwait(false);
            }
            catch (CliException e)
            {
                results[index] = new SyncResult(vm.Name, SyncState.Failed, vmMethod, TimeSpan.Zero, e.Message, null);
            }
        }

        var progress = new Action<int>(i => { });
        if (!json && !cli.Interactive)
        {
            progress = i => Print(cli, results[i]);
        }

        if (!json && cli.Interactive && !dryRun)
        {
            await AnsiConsole.Progress().AutoClear(true).StartAsync(async context =>
            {
                var task = context.AddTask($"syncing keys on {targets.Count} VM(s)", maxValue: targets.Count);
                await Parallel.ForEachAsync(Enumerable.Range(0, targets.Count), new ParallelOptions { MaxDegreeOfParallelism = parallel, CancellationToken = cancellationToken }, async (i, ct) =>
                {
                    await SyncOneAsync(i, ct).ConfigureAwait(false);
                    task.Increment(1);
                }).ConfigureAwait(false);
            }).ConfigureAwait(false);
            foreach (var result in results)
            {
                Print(cli, result);
            }
        }
        else
        {
            await Parallel.ForEachAsync(Enumerable.Range(0, targets.Count), new ParallelOptions { MaxDegreeOfParallelism = parallel, CancellationToken = cancellationToken }, async (i, ct) =>
            {
                await SyncOneAsync(i, ct).ConfigureAwait(false);
                lock (results)
                {
                    progress(i);
                }
            }).ConfigureAwait(false);
        }

        var ok = results.All(r => r.Succeeded || dryRun);
        if (json)
        {
            var report = new SyncReport(ok, [.. results.Select(r => new SyncReportEntry(r.Vm, targets.First(t => t.Name == r.Vm).ResourceGroup, r.StateName, r.Method, (long)r.Duration.TotalMilliseconds, r.Error, r.Advice))]);
            await cli.Streams.Out.WriteLineAsync(JsonSerializer.Serialize(report, CliJsonContext.Output.SyncReport)).ConfigureAwait(false);
        }
        else
        {
            var failed = results.Count(r => !r.Succeeded && !dryRun);
            await cli.Streams.Out.WriteLineAsync($"{results.Length} VM(s): {results.Count(r => r.State == SyncState.Appended)} appended, {results.Count(r => r.State == SyncState.Present)} already present, {failed} failed").ConfigureAwait(false);
        }

        return ok ? ExitCodes.Success : ExitCodes.SyncFailed;
    }

    internal static async Task<List<ArmVirtualMachine>> ResolveAllAsync(CliContext cli, VmResolver resolver, IReadOnlyList<string> names, bool all, string? group, int parallel, CancellationToken cancellationToken)
    {
        if (all)
        {
            var listed = await resolver.ListAsync(group, cancellationToken).ConfigureAwait(false);
            var linux = listed.Where(v => v.OsType is null || v.OsType.Equals("Linux", StringComparison.OrdinalIgnoreCase)).ToList();
            if (linux.Count < listed.Count)
            {
                cli.Detail($"skipping {listed.Count - linux.Count} non-Linux VM(s)");
            }

            return linux;
        }

        var found = new ArmVirtualMachine[names.Count];
        await Parallel.ForEachAsync(Enumerable.Range(0, names.Count), new ParallelOptions { MaxDegreeOfParallelism = parallel, CancellationToken = cancellationToken }, async (i, ct) =>
            found[i] = await resolver.ResolveAsync(names[i], group, ct).ConfigureAwait(false)).ConfigureAwait(false);
        return [.. found];
    }

    private static void Print(CliContext cli, SyncResult result)
    {
        var line = $"{result.Vm}\t{result.StateName}\t{result.Method}\t{result.Duration.TotalMilliseconds:0} ms";
        if (result.Error is not null)
        {
            line += $"\t{result.Error}";
        }

        cli.Streams.Out.WriteLine(line);
        if (!result.Succeeded && result.Advice is not null)
        {
            cli.Streams.Out.WriteLine($"{result.Vm}\tadvice: {result.Advice}");
        }
    }
}
