using System.Runtime.InteropServices;
using System.Text;

namespace Latch.Cli.Interop;

/// <summary>Safe wrappers over <see cref="Libc"/>; the rest of the CLI never sees raw descriptors except as numbers handed to ssh.</summary>
internal static class Native
{
    public static bool IsTerminal(int fd) => Libc.IsATty(fd) == 1;

    public static bool IsRoot => Libc.GetEUid() == 0;

    /// <summary>
    /// Replaces this process with <paramref name="program"/> (looked up on PATH). Returns only on failure, with
    /// the errno text; the caller turns that into an exit code.
    /// </summary>
    public static string Exec(string program, IReadOnlyList<string> arguments)
    {
        var argv = new string?[arguments.Count + 2];
        argv[0] = program;
        for (var i = 0; i < arguments.Count; i++)
        {
            argv[i + 1] = arguments[i];
        }

        Console.Out.Flush();
        Console.Error.Flush();
        Libc.ExecVp(program, argv);
        return Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError());
    }

    /// <summary>
    /// An anonymous in-memory file (memfd, mode 0600, close-on-exec) holding <paramref name="content"/>: a private key
    /// for ssh that never touches a disk. ssh reads it as <see cref="MemoryFilePath"/> while this process lives; ssh
    /// closes every inherited descriptor above 2 at start, so <c>/proc/self/fd/N</c> in ssh would name nothing.
    /// </summary>
    public static int CreateMemoryFile(string name, ReadOnlySpan<byte> content)
    {
        var fd = Libc.MemfdCreate(name, Libc.MfdCloExec);
        if (fd < 0)
        {
            throw new IOException($"memfd_create failed: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        }

        if (Libc.FChmod(fd, Convert.ToUInt32("600", 8)) != 0)
        {
            Libc.Close(fd);
            throw new IOException($"fchmod on a memfd failed: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        }

        var written = 0;
        while (written < content.Length)
        {
            var n = Libc.Write(fd, content[written..], content.Length - written);
            if (n <= 0)
            {
                Libc.Close(fd);
                throw new IOException($"write to a memfd failed: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
            }

            written += (int)n;
        }

        return fd;
    }

    /// <summary>The path under which a child of this process (ssh) opens this process's descriptor <paramref name="fd"/>.</summary>
    public static string MemoryFilePath(int fd) => $"/proc/{Environment.ProcessId}/fd/{fd}";

    /// <summary>Asks a child to stop (SIGTERM), as a terminal's hang-up or an operator's kill would.</summary>
    public static void Terminate(int pid) => Libc.Kill(pid, Libc.SigTerm);

    public static void Close(int fd) => Libc.Close(fd);

    /// <summary>
    /// Appends <paramref name="record"/> with one write(2) on an O_APPEND descriptor (mode 0600 when created, no symlink
    /// followed): concurrent latch processes each land whole lines, never interleaved or overwritten.
    /// </summary>
    public static void AppendRecord(string path, ReadOnlySpan<byte> record)
    {
        var fd = Libc.Open(path, Libc.OWrOnly | Libc.OCreat | Libc.OAppend | Libc.ONoFollow | Libc.OCloExec, Convert.ToUInt32("600", 8));
        if (fd < 0)
        {
            throw new IOException($"cannot open {path} for appending: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        }

        try
        {
            var written = Libc.Write(fd, record, record.Length);
            if (written != record.Length)
            {
                throw new IOException($"short write to {path}: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
            }
        }
        finally
        {
            Libc.Close(fd);
        }
    }

    /// <summary>
    /// Makes <paramref name="caCertificatePath"/> this process's whole OpenSSL "system" certificate store
    /// (<c>SSL_CERT_FILE</c>, and an empty <c>SSL_CERT_DIR</c>) in the native environment, which .NET reads when it
    /// first builds a chain. .NET loads the system store on every chain build, even one with custom root trust (its
    /// intermediates are candidates), and that first load — ca-certificates.crt plus every file in /etc/ssl/certs —
    /// cost 50–200 ms of a latch run against the emulator, whose chain never uses it. Trust is unchanged: the handler
    /// trusts the emulator's CA alone either way. Call before the first TLS handshake.
    /// </summary>
    public static void UseCertificateFileAsSystemStore(string caCertificatePath)
    {
        Libc.SetEnv("SSL_CERT_FILE", Path.GetFullPath(caCertificatePath), 1);
        Libc.SetEnv("SSL_CERT_DIR", "", 1);
    }

    public static string Utf8(ReadOnlySpan<byte> bytes) => Encoding.UTF8.GetString(bytes);
}
