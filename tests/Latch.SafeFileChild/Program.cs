using System.Globalization;
using System.Text;
using Latch.Core.Files;
using Latch.Core.Keys;

// Usage (run as root by Latch.Core.Tests):
//   alternate HOME RELATIVE UID GID FILE_A FILE_B COUNT   writes A, B, A, … and prints each finished index
//   append    HOME RELATIVE UID GID TAG COUNT             appends the lines "TAG-0" … "TAG-(COUNT-1)"
//   ensure    HOME RELATIVE UID GID KEYS_FILE             EnsurePresent of each key line of KEYS_FILE, one update each
if (args.Length < 6)
{
    Console.Error.WriteLine("usage: Latch.SafeFileChild alternate|append HOME RELATIVE UID GID …");
    return 2;
}

var target = new UserFileTarget(args[1], args[2], uint.Parse(args[3], CultureInfo.InvariantCulture), uint.Parse(args[4], CultureInfo.InvariantCulture));
var options = new SafeFileOptions { LockTimeout = TimeSpan.FromMinutes(2) };
switch (args[0])
{
    case "alternate":
        var contents = new[] { File.ReadAllBytes(args[5]), File.ReadAllBytes(args[6]) };
        var count = int.Parse(args[7], CultureInfo.InvariantCulture);
        Console.WriteLine("ready");
        for (var i = 0; i < count; i++)
        {
            SafeFile.Update(target, _ => contents[i % 2], options);
            Console.WriteLine(i.ToString(CultureInfo.InvariantCulture));
        }

        return 0;

    case "append":
        var tag = args[5];
        var lines = int.Parse(args[6], CultureInfo.InvariantCulture);
        for (var i = 0; i < lines; i++)
        {
            var line = Encoding.UTF8.GetBytes($"{tag}-{i}\n");
            SafeFile.Update(target, current => [.. current ?? [], .. line], options);
        }

        Console.WriteLine("done");
        return 0;

    case "ensure":
        foreach (var keyLine in File.ReadAllLines(args[5]))
        {
            var key = SshPublicKey.Parse(keyLine);
            SafeFile.Update(target, current =>
            {
                var document = AuthorizedKeysDocument.Parse(current ?? []);
                return document.EnsurePresent([key]) == 0 ? null : document.ToBytes();
            }, options);
        }

        Console.WriteLine("done");
        return 0;

    default:
        Console.Error.WriteLine($"unknown mode '{args[0]}'");
        return 2;
}
