using System.Runtime.Versioning;

// the rig is namespaces, overlayfs and chroot: Linux only
[assembly: SupportedOSPlatform("linux")]
