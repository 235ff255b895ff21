using Latch.Rig;

namespace Latch.VmTests;

public sealed class WaagentConfTests
{
    [Fact]
    public void Set_replaces_uncomments_and_appends_keys_and_keeps_other_lines()
    {
        const string conf = "# header\nProvisioning.Agent=auto\n# Debug.EnableFastTrack=y\nLogs.Verbose=n\nOther=1\n";

        var edited = WaagentConf.Set(conf, new Dictionary<string, string>
        {
            ["Provisioning.Agent"] = "disabled",
            ["Debug.EnableFastTrack"] = "n",
            ["OS.EnableFirewall"] = "n",
        });

        Assert.Equal("# header\nProvisioning.Agent=disabled\nDebug.EnableFastTrack=n\nLogs.Verbose=n\nOther=1\nOS.EnableFirewall=n\n", edited);
    }
}
