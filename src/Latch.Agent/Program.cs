using Latch.Agent.Daemon;
using Latch.Agent.Guard;

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

        // the image 'latchd run' re-executes itself as once Ready was reported, when latchd-guard does not ship next to
        // latchd: the long-lived daemon never builds the parser or loads the configuration (its memory is the key guard's)
        if (AfterReady.IsInvocation(args, out var verbose) && Interop.Libc.GetEffectiveUserId() == 0)
        {
            return AfterReady.RunAsync(Logging.StderrLogger.Create(verbose), SystemdNotifier.FromEnvironment(), TimeProvider.System, verbose);
        }

        return AgentCommandLine.RunAsync(args, new AgentStreams(Console.In, Console.Out, Console.Error));
    }
}
