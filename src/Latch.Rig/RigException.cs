namespace Latch.Rig;

/// <summary>The rig could not build or tear down part of a VM; the message says what and how to fix it.</summary>
internal sealed class RigException(string message, Exception? inner = null) : Exception(message, inner);
