using System.CommandLine;
using Latch.Agent.Commands;
using Latch.Agent.Guard;

namespace Latch.Agent;

internal static class Program
{
    private static int Main(string[] args)
    {
        // sshd runs this on every login attempt: answer before anything else is built (see AuthorizedKeysCommand)
        if (args.Length > 0 && args[0] == AuthorizedKeysCommand.Name)
        {
            return AuthorizedKeysCommand.Run(args[1..], Console.OpenStandardOutput(), Console.Error, TimeProvider.System);
        }

        var root = new RootCommand("latchd: the Latch agent inside an Azure Linux VM");
        GuardCommands.AddTo(root);
        return root.Parse(args).Invoke();
    }
}
