using System.CommandLine;
using Latch.Agent.Guard;

namespace Latch.Agent.Commands;

/// <summary>
/// <c>latchd authorized-keys</c> as the parser sees it: only for help text, since Program answers sshd's calls before
/// the parser is built. Invoking it through the parser runs the same code.
/// </summary>
internal static class AuthorizedKeysCommands
{
    public static Command Create()
    {
        var words = new Argument<string[]>("USER [FINGERPRINT [TYPE [KEY]]]") { Arity = new ArgumentArity(1, 6) };
        var command = new Command(AuthorizedKeysCommand.Name,
            "Print USER's managed keys for sshd (AuthorizedKeysCommand ... %u %f %t %k); never uses the network");
        command.Arguments.Add(words);
        command.SetAction(parse => AuthorizedKeysCommand.Run(parse.GetValue(words) ?? [], Console.OpenStandardOutput(), Console.Error, TimeProvider.System));
        return command;
    }
}
