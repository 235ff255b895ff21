using System.Runtime.Versioning;

// latchd is a Linux agent: inotify, sshd, /etc/passwd (the attribute allows repeats, so another part may state it too)
[assembly: SupportedOSPlatform("linux")]
