using System.Runtime.InteropServices;

namespace Latch.Core.Interop;

/// <summary>struct statx (linux/stat.h): the same 256-byte layout on every architecture.</summary>
[StructLayout(LayoutKind.Explicit, Size = 256)]
internal struct StatxBuffer
{
    [FieldOffset(0)] public uint Mask;
    [FieldOffset(16)] public uint NLink;
    [FieldOffset(20)] public uint Uid;
    [FieldOffset(24)] public uint Gid;
    [FieldOffset(28)] public ushort Mode;
    [FieldOffset(32)] public ulong Ino;
    [FieldOffset(40)] public ulong Size;
    [FieldOffset(112)] public long MTimeSeconds;
    [FieldOffset(120)] public uint MTimeNanoseconds;
    [FieldOffset(136)] public uint DevMajor;
    [FieldOffset(140)] public uint DevMinor;
}

/// <summary>What SafeFile needs to know about a file, taken from statx without following symlinks.</summary>
internal readonly record struct FileStatus(
    uint Mode, uint Uid, uint Gid, uint LinkCount, ulong Inode, ulong Device, ulong Size, long MTimeSeconds, uint MTimeNanoseconds)
{
    public uint Type => Mode & LibcConstants.S_IFMT;

    public uint Permissions => Mode & 0xFFF;

    public bool IsDirectory => Type == LibcConstants.S_IFDIR;

    public bool IsRegularFile => Type == LibcConstants.S_IFREG;

    public bool IsSymlink => Type == LibcConstants.S_IFLNK;

    /// <summary>sshd's StrictModes test: no write bit for group or others.</summary>
    public bool IsGroupOrWorldWritable => (Mode & 0x12) != 0;

    public bool IsSameFileAs(FileStatus other) => Inode == other.Inode && Device == other.Device;

    public string Describe() => Type switch
    {
        LibcConstants.S_IFDIR => "a directory",
        LibcConstants.S_IFREG => "a regular file",
        LibcConstants.S_IFLNK => "a symbolic link",
        0x1000 => "a FIFO",
        0x2000 => "a character device",
        0x6000 => "a block device",
        0xC000 => "a socket",
        _ => "an unknown kind of file",
    };
}
