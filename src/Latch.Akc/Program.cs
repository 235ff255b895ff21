using System.Text;
using Latch.Agent.Guard;

namespace Latch.Akc;

/// <summary><c>latch-akc [--store DIR] USER [FINGERPRINT [TYPE [KEY]]]</c>: exactly <c>latchd authorized-keys</c>, started faster.</summary>
internal static class Program
{
    private static int Main(string[] args)
    {
        using var stderr = new LazyStderr();
        return AuthorizedKeysCommand.Run(args, Console.OpenStandardOutput(), stderr, TimeProvider.System);
    }
}

/// <summary>
/// Console.Error, built only when something is written: a login whose keys are printed never writes to stderr, so it
/// never pays for the console writer's encoder and stream set-up.
/// </summary>
internal sealed class LazyStderr : TextWriter
{
    private TextWriter? _inner;

    public override Encoding Encoding => Inner.Encoding;

    private TextWriter Inner => _inner ??= Console.Error;

    public override void Write(char value) => Inner.Write(value);

    public override void Write(string? value) => Inner.Write(value);

    public override void WriteLine(string? value) => Inner.WriteLine(value);

    public override void Flush() => _inner?.Flush();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _inner?.Flush();
        }

        base.Dispose(disposing);
    }
}
