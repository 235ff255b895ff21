using System.Runtime.Versioning;

// latchd manages Linux accounts, sshd and sysfs: Linux only
[assembly: SupportedOSPlatform("linux")]
