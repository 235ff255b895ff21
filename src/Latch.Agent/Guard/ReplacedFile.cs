using Latch.Core.Interop;

namespace Latch.Agent.Guard;

/// <summary>
/// The authorized_keys inode a restore renamed a new file over, kept open for a while. A writer that opened the file
/// before the rename (truncate, then write, like most tools) writes into this inode; <see cref="TakeLateWrite"/> sees
/// that, so the writer's lines can be put back instead of vanishing with the unlinked inode.
/// </summary>
internal sealed class ReplacedFile(SafeFd file, byte[] seen, byte[] written, long heldUntil) : IDisposable
{
    /// <summary>What the restore wrote in its place; a late write is only put back while the file still holds exactly this.</summary>
    public byte[] Written { get; set; } = written;

    /// <summary>The <see cref="TimeProvider"/> timestamp after which a late writer is no longer waited for.</summary>
    public long HeldUntil { get; } = heldUntil;

    /// <summary>The inode's content when it differs from what was last seen of it (it then counts as seen); else null.</summary>
    public byte[]? TakeLateWrite()
    {
        if (Posix.Rewind(file) != 0 || CurrentFile.ReadAll(file) is not { } now || now.AsSpan().SequenceEqual(seen))
        {
            return null;
        }

        seen = now;
        return now;
    }

    public void Dispose() => file.Dispose();
}
