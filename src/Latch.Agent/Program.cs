using Latch.Agent.Daemon;
using Latch.Agent.Guard;
using Latch.Agent.Os;

namespace Latch.Agent;

internal static class Program
{
    private static Task<int> Main(string[] args)
    {
        // sshd may run `latchd authorized-keys` (instead of latch-akc) on every login: answer before the parser is built
        if (args.Length > 0 && args[0] == AuthorizedKeysCommand.Name)
        {
            return Task.FromResult(AuthorizedKeysCommand.Run(args[1..], Console.OpenStandardOutput(), Console.Error, TimeProvider.System));
        }

        // the image 'latchd run' re-executes itself as once Ready was reported: the long-lived daemon never builds the
        // parser or loads the configuration (its memory is the key guard's)
        if (args is ["run", AgentDaemon.AfterReadyOption] or ["run", AgentDaemon.AfterReadyOption, "--verbose"] && Interop.Libc.GetEffectiveUserId() == 0)
        {
            var logger = Logging.StderrLogger.Create(args.Length == 3);
            return AgentDaemon.RunAfterReadyAsync(new HostSystem("/", logger), SystemdNotifier.FromEnvironment(), TimeProvider.System);
        }

        return AgentCommandLine.RunAsync(args, new AgentStreams(Console.In, Console.Out, Console.Error));
    }
}
