using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Latch.Agent.Guard;
using Latch.Agent.KeyStore;
using Latch.Agent.KeyVaultPull;
using Latch.Core.Keys;

namespace Latch.Agent.Commands;

/// <summary><c>latchd keys list|refresh|add|remove</c>: the managed keys in the key store.</summary>
internal static class KeysCommands
{
    public static Command Create()
    {
        var keys = new Command("keys", "The Latch-managed keys on this VM");
        var config = GuardCommands.ConfigOption();

        var list = new Command("list", "Show each managed key: user, fingerprint, source, expiry");
        GuardCommands.AddConfig(list, config);
        list.SetAction(parse => List(parse.GetValue(config)));

        var refresh = new Command("refresh", "Pull keys from Key Vault now and restore authorized_keys (through the daemon, or once here when none runs)");
        GuardCommands.AddConfig(refresh, config);
        refresh.SetAction((parse, ct) => RefreshAsync(parse.GetValue(config), ct));

        var user = new Argument<string>("USER");
        var line = new Argument<string>("KEY") { Description = "One public key line: 'type base64 [comment]'" };
        var expires = new Option<DateTimeOffset?>("--expires") { Description = "When the key stops working (ISO 8601, e.g. 2030-01-31T00:00:00Z)" };
        var source = new Option<string>("--source") { Description = "Where the key comes from (recorded in the store)", DefaultValueFactory = _ => "local" };
        var add = new Command("add", "Add a managed key for USER to the key store");
        add.Arguments.Add(user);
        add.Arguments.Add(line);
        add.Options.Add(expires);
        add.Options.Add(source);
        GuardCommands.AddConfig(add, config);
        add.SetAction((parse, ct) => AddAsync(parse.GetValue(config), parse.GetValue(user)!, parse.GetValue(line)!, parse.GetValue(expires), parse.GetValue(source)!, ct));

        var fingerprint = new Argument<string>("FINGERPRINT") { Description = "SHA256:… as ssh-keygen -l prints it" };
        var remove = new Command("remove", "Retire a managed key of USER (the guard takes it out of authorized_keys)");
        remove.Arguments.Add(user);
        remove.Arguments.Add(fingerprint);
        GuardCommands.AddConfig(remove, config);
        remove.SetAction((parse, ct) => RemoveAsync(parse.GetValue(config), parse.GetValue(user)!, parse.GetValue(fingerprint)!, ct));

        keys.Subcommands.Add(list);
        keys.Subcommands.Add(refresh);
        keys.Subcommands.Add(add);
        keys.Subcommands.Add(remove);
        return keys;
    }

    private static int List(string? configPath)
    {
        var store = new KeyStoreFiles(GuardCommands.LoadConfig(configPath).StoreDirectory);
        var now = TimeProvider.System.GetUtcNow();
        Console.Out.WriteLine("USER\tFINGERPRINT\tSOURCE\tEXPIRES\tSTATE");
        var status = 0;
        foreach (var user in store.Users())
        {
            var read = store.Read(user);
            if (read.Document is null)
            {
                Console.Error.WriteLine($"latchd: {user}: {read.Problem}");
                status = 1;
                continue;
            }

            foreach (var key in read.Document.Keys)
            {
                var state = key.IsValidAt(now) ? "valid" : key.ExpiresOn <= now ? "expired" : "not yet valid";
                Console.Out.WriteLine(string.Join('\t', user, key.Key.Sha256Fingerprint, key.Source,
                    key.ExpiresOn?.ToString("u", CultureInfo.InvariantCulture) ?? "never", state));
            }

            foreach (var retired in read.Document.Retired)
            {
                Console.Out.WriteLine(string.Join('\t', user, retired.Key.Sha256Fingerprint, retired.Source, "-",
                    "retired " + retired.RetiredAt.ToString("u", CultureInfo.InvariantCulture)));
            }
        }

        return status;
    }

    private static async Task<int> RefreshAsync(string? configPath, CancellationToken cancellationToken)
    {
        var config = GuardCommands.LoadConfig(configPath);
        var answer = await ControlSocket.RequestAsync(config.Socket, "refresh", TimeSpan.FromMinutes(3), cancellationToken).ConfigureAwait(false);
        if (answer is not null)
        {
            var refreshed = JsonSerializer.Deserialize(answer, GuardStatusJsonContext.Default.RefreshAnswer)!;
            return Report(refreshed.KeyVault, refreshed.ChangedUsers, "daemon");
        }

        // no daemon: pull once and restore here
        var logger = Logging.StderrLogger.Create(Microsoft.Extensions.Logging.LogLevel.Warning);
        var store = new KeyStoreFiles(config.StoreDirectory);
        IReadOnlyList<string> changed = [];
        KeyVaultStatus? status = null;
        if (config.KeyVault.VaultUrl is not null)
        {
            using var puller = new KeyVaultPuller(config.KeyVault, store, logger, TimeProvider.System, config.KeyVaultStatusFile);
            changed = await puller.PullAsync(cancellationToken).ConfigureAwait(false);
            status = puller.Status;
        }

        var restorer = new KeyRestorer(new AuditLog(config.AuditLog), logger, TimeProvider.System);
        var accounts = new UserAccounts(config.PasswdFile);
        foreach (var user in store.Users())
        {
            if (store.Read(user).Document is { } document && accounts.Find(user) is { } account)
            {
                restorer.Restore(account, document, "refresh requested", cancellationToken);
            }
        }

        return Report(status, changed, "one-shot");
    }

    private static int Report(KeyVaultStatus? status, IReadOnlyList<string> changed, string how)
    {
        if (status is { UsingLastKnownGood: true })
        {
            Console.Error.WriteLine($"latchd: Key Vault pull failed, the last known good keys stay: {status.LastError}");
            return 1;
        }

        Console.Out.WriteLine($"refreshed ({how}): {(changed.Count == 0 ? "no store changed" : "changed " + string.Join(", ", changed))}"
            + (status is null ? "; Key Vault not configured" : $"; {status.Keys} key(s) from {status.Vault}"));
        return 0;
    }

    private static async Task<int> AddAsync(string? configPath, string user, string line, DateTimeOffset? expires, string source, CancellationToken cancellationToken)
    {
        if (!KeyStoreDocument.IsValidUserName(user))
        {
            Console.Error.WriteLine($"latchd: '{KeyStoreFiles.Printable(user)}' is not a valid user name");
            return 2;
        }

        if (!KeyValidator.TryValidate(line, KeyValidationOptions.Default, out var key, out var error))
        {
            Console.Error.WriteLine($"latchd: {error}");
            return 2;
        }

        var config = GuardCommands.LoadConfig(configPath);
        var store = new KeyStoreFiles(config.StoreDirectory);
        var read = store.Read(user);
        if (read.Status is not (StoreReadStatus.Ok or StoreReadStatus.Missing))
        {
            Console.Error.WriteLine($"latchd: {read.Problem}");
            return 1;
        }

        var current = read.Document ?? KeyStoreDocument.Empty(user);
        var managed = ManagedKey.Create(key, source, null, expires);
        var keys = current.Keys.Where(k => k.Key.Identity != key.Identity).Append(managed).ToList();
        store.Write(new KeyStoreDocument(user, keys, [.. current.Retired.Where(r => r.Key.Identity != key.Identity)]), cancellationToken);
        await Nudge(config, cancellationToken).ConfigureAwait(false);
        Console.Out.WriteLine($"added {key.Sha256Fingerprint} for {user}");
        return 0;
    }

    private static async Task<int> RemoveAsync(string? configPath, string user, string fingerprint, CancellationToken cancellationToken)
    {
        var config = GuardCommands.LoadConfig(configPath);
        var store = new KeyStoreFiles(config.StoreDirectory);
        var read = store.Read(user);
        if (read.Document is not { } current)
        {
            Console.Error.WriteLine($"latchd: {read.Problem}");
            return 1;
        }

        var gone = current.Keys.Where(k => k.Key.Sha256Fingerprint == fingerprint).ToList();
        if (gone.Count == 0)
        {
            Console.Error.WriteLine($"latchd: {user} has no managed key {fingerprint}; see 'latchd keys list'");
            return 1;
        }

        var now = TimeProvider.System.GetUtcNow();
        store.Write(current with
        {
            Keys = [.. current.Keys.Except(gone)],
            Retired = [.. current.Retired, .. gone.Select(k => new RetiredKey(k.Key, k.Source, now))],
        }, cancellationToken);
        await Nudge(config, cancellationToken).ConfigureAwait(false);
        Console.Out.WriteLine($"retired {fingerprint} for {user}");
        return 0;
    }

    /// <summary>A running daemon sees the store change through inotify; this makes the answer wait until it is applied.</summary>
    private static Task Nudge(GuardConfig config, CancellationToken cancellationToken) =>
        ControlSocket.RequestAsync(config.Socket, "refresh", TimeSpan.FromSeconds(30), cancellationToken);
}
