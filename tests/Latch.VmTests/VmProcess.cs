using Latch.Rig;

namespace Latch.VmTests;

/// <summary>What a process the rig started in a VM is running, read from the host's /proc.</summary>
internal static class VmProcess
{
    /// <summary>The file the process runs (/proc/PID/exe), as a path inside the VM.</summary>
    public static string ImagePath(Vm vm, int pid)
    {
        var target = new FileInfo($"/proc/{pid}/exe").LinkTarget ?? "";
        return target.StartsWith(vm.Root + "/", StringComparison.Ordinal) ? target[vm.Root.Length..] : target;
    }

    /// <summary>Its argument vector (/proc/PID/cmdline), joined with spaces.</summary>
    public static string CommandLine(int pid) => File.ReadAllText($"/proc/{pid}/cmdline").TrimEnd('\0').Replace('\0', ' ');
}
