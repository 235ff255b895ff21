using Latch.Agent.Guard;

namespace Latch.Akc;

/// <summary><c>latch-akc [--store DIR] USER [FINGERPRINT [TYPE [KEY]]]</c>: exactly <c>latchd authorized-keys</c>, started faster.</summary>
internal static class Program
{
    private static int Main(string[] args) =>
        AuthorizedKeysCommand.Run(args, Console.OpenStandardOutput(), Console.Error, TimeProvider.System);
}
