using Latch.Testing;

namespace Latch.VmTests;

/// <summary>What every rig test needs: root, and the tools that build and run a VM.</summary>
internal static class RigRequires
{
    public static void All()
    {
        Requires.Root();
        Requires.Tool("debootstrap");
        Requires.Tool("zstd");
        Requires.Tool("ip", "iproute2");
        Requires.Tool("nsenter", "util-linux");
        Requires.Tool("unshare", "util-linux");
        Requires.Tool("hostname");
        Requires.Tool("mount");
        Requires.Tool("ssh", "openssh-client");
        Requires.Tool("ssh-keygen", "openssh-client");
    }
}
