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

        return AgentCommandLine.RunAsync(args, new AgentStreams(Console.In, Console.Out, Console.Error));
    }
}
