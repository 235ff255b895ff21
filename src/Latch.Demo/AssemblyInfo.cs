using System.Runtime.Versioning;

// the demo drives the rig (namespaces, overlayfs, chroot) or a sandbox directory: Linux only
[assembly: SupportedOSPlatform("linux")]
