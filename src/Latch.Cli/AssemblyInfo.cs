// latch runs on Linux (and other Unix systems with ssh); it uses Unix file modes, execvp and memfd.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
