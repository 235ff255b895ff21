namespace Latch.Core.Files;

/// <summary>A <see cref="UserFileTarget"/> after its paths were checked and split.</summary>
internal sealed record TargetPath(string Home, string[] Directories, string FileName, uint Uid, uint Gid, string Display)
{
    public static TargetPath Parse(UserFileTarget target, string verb)
    {
        ArgumentNullException.ThrowIfNull(target);
        var home = target.Home ?? "";
        var relative = target.RelativePath ?? "";
        var display = home.TrimEnd('/') + "/" + relative;
        var context = new SafeFileContext(verb, display);
        if (!home.StartsWith('/') || home.Contains('\0', StringComparison.Ordinal))
        {
            throw context.Refuse(SafeFileFailure.InvalidPath, $"the home '{home}' is not an absolute path", "pass the home from the passwd entry");
        }

        var parts = relative.Split('/');
        if (relative.Length == 0 || relative.StartsWith('/') || relative.Contains('\0', StringComparison.Ordinal)
            || parts.Any(p => p is "" or "." or ".."))
        {
            throw context.Refuse(SafeFileFailure.InvalidPath,
                $"the relative path '{relative}' must name a file below the home without '.', '..' or empty parts",
                "pass a path such as .ssh/authorized_keys");
        }

        return new TargetPath(home, parts[..^1], parts[^1], target.Uid, target.Gid, display);
    }
}
