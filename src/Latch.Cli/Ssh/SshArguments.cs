namespace Latch.Cli.Ssh;

/// <summary>
/// The user's extra ssh arguments (after <c>--</c>), split into ssh options and the remote command, so latch can
/// place the destination between them and reuse the options (<c>-F</c>, <c>-o …</c>, <c>-J</c>) for its own
/// BatchMode ssh calls.
/// </summary>
internal sealed record SshArguments(IReadOnlyList<string> Options, IReadOnlyList<string> Command)
{
    // ssh(1) options that take a value (from its getopt string)
    private const string WithValue = "BbcDEeFIiJLlmOoPpQRSWw";

    public static SshArguments Split(IReadOnlyList<string> arguments)
    {
        var options = new List<string>();
        var i = 0;
        while (i < arguments.Count)
        {
            var argument = arguments[i];
            if (argument == "--")
            {
                i++;
                break;
            }

            if (argument.Length < 2 || argument[0] != '-')
            {
                break;
            }

            options.Add(argument);
            i++;
            // "-p 2222" takes the next argument; "-p2222" and "-vvv" do not
            var letter = argument[^1];
            var bundledValue = false;
            for (var c = 1; c < argument.Length; c++)
            {
                if (WithValue.Contains(argument[c], StringComparison.Ordinal))
                {
                    bundledValue = c < argument.Length - 1;
                    letter = argument[c];
                    break;
                }
            }

            if (WithValue.Contains(letter, StringComparison.Ordinal) && !bundledValue && i < arguments.Count)
            {
                options.Add(arguments[i]);
                i++;
            }
        }

        return new SshArguments(options, [.. arguments.Skip(i)]);
    }
}

/// <summary>Where and how to reach a VM over SSH.</summary>
internal sealed record SshTarget(string Host, int Port, string User, string? IdentityPath, IReadOnlyList<string> UserOptions)
{
    public string Destination => $"{User}@{Host}";

    /// <summary>latch's options first (port, identity), then the user's, so theirs can add to ours.</summary>
    public List<string> BaseArguments()
    {
        var arguments = new List<string>();
        if (Port != 22)
        {
            arguments.AddRange(["-p", Port.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        }

        if (IdentityPath is not null)
        {
            arguments.AddRange(["-i", IdentityPath]);
        }

        arguments.AddRange(UserOptions);
        return arguments;
    }
}
