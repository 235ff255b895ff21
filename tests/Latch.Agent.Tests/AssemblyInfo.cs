using System.Runtime.Versioning;

// latchd is Linux only (inotify, sshd, /etc/passwd)
[assembly: SupportedOSPlatform("linux")]
