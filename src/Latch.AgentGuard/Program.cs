using Latch.Agent.Daemon;
using Latch.Agent.Logging;

namespace Latch.AgentGuard;

/// <summary>
/// <c>latchd-guard run --after-ready [--verbose]</c>: what <c>latchd run</c> becomes once Ready was reported (see
/// <see cref="AfterReady"/>). Not a command of its own: anything else is refused with the commands to use instead.
/// </summary>
internal static class Program
{
    private static Task<int> Main(string[] args)
    {
        if (!AfterReady.IsInvocation(args, out var verbose))
        {
            Console.Error.WriteLine($"latchd-guard: this is the image 'latchd run' becomes after Ready ({AfterReady.ImageName} run {AfterReady.Option}); start the service with 'latchd run', or the key guard alone with 'latchd guard watch'");
            return Task.FromResult(2);
        }

        if (Agent.Interop.Libc.GetEffectiveUserId() != 0)
        {
            Console.Error.WriteLine("latchd-guard: the key guard runs as root (it restores keys in every managed user's home); start it through 'latchd run' under systemd");
            return Task.FromResult(2);
        }

        return AfterReady.RunAsync(StderrLogger.Create(verbose), SystemdNotifier.FromEnvironment(), TimeProvider.System, verbose);
    }
}
