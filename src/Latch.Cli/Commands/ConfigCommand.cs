using System.CommandLine;

namespace Latch.Cli.Commands;

/// <summary><c>latch config get [KEY]</c>, <c>latch config set KEY VALUE</c>, <c>latch config path</c>.</summary>
internal static class ConfigCommand
{
    public static Command Create(CliStreams streams, GlobalOptions globals)
    {
        var getKey = new Argument<string?>("KEY") { Description = "e.g. ssh.sync_timeout or vm.web1.auto_sync_keys; none lists every setting", Arity = ArgumentArity.ZeroOrOne };
        var get = new Command("get", "Print a setting (or all known settings with their values)");
        get.Arguments.Add(getKey);
        get.SetAction((parse, ct) => CommandRunner.RunAsync(streams, globals, parse, async (cli, _) =>
        {
            if (parse.GetValue(getKey) is { } key)
            {
                var value = cli.Config.GetText(key);
                if (value is null)
                {
                    var known = Config.LatchConfig.Known.FirstOrDefault(k => k.Key == key);
                    if (known.Key is null)
                    {
                        await cli.Streams.Error.WriteLineAsync($"latch: '{key}' is not set in {cli.Config.Path}").ConfigureAwait(false);
                        return ExitCodes.NotFound;
                    }

                    value = known.Default;
                }

                await cli.Streams.Out.WriteLineAsync(value).ConfigureAwait(false);
                return ExitCodes.Success;
            }

            await cli.Streams.Out.WriteLineAsync($"# {cli.Config.Path}").ConfigureAwait(false);
            foreach (var (name, type, fallback, description) in Config.LatchConfig.Known)
            {
                var value = name.Contains("NAME", StringComparison.Ordinal) ? null : cli.Config.GetText(name);
                await cli.Streams.Out.WriteLineAsync($"{name} = {value ?? (fallback.Length > 0 ? fallback + " (default)" : "(unset)")}\t# {type}: {description}").ConfigureAwait(false);
            }

            return ExitCodes.Success;
        }, ct));

        var setKey = new Argument<string>("KEY");
        var setValue = new Argument<string>("VALUE");
        var set = new Command("set", "Change a setting in the config file (checked against the known settings)");
        set.Arguments.Add(setKey);
        set.Arguments.Add(setValue);
        set.SetAction((parse, ct) => CommandRunner.RunAsync(streams, globals, parse, async (cli, _) =>
        {
            cli.Config.Set(parse.GetValue(setKey)!, parse.GetValue(setValue)!);
            cli.Config.Save();
            await cli.Streams.Out.WriteLineAsync($"{parse.GetValue(setKey)} = {cli.Config.GetText(parse.GetValue(setKey)!)} ({cli.Config.Path})").ConfigureAwait(false);
            return ExitCodes.Success;
        }, ct));

        var path = new Command("path", "Print the config file's path");
        path.SetAction((parse, ct) => CommandRunner.RunAsync(streams, globals, parse, async (cli, _) =>
        {
            await cli.Streams.Out.WriteLineAsync(cli.Config.Path).ConfigureAwait(false);
            return ExitCodes.Success;
        }, ct));

        var config = new Command("config", "Read and change latch's settings");
        config.Subcommands.Add(get);
        config.Subcommands.Add(set);
        config.Subcommands.Add(path);
        return config;
    }
}
