using Latch.Core;

namespace Latch.Agent.Config;

/// <summary>A configuration file cannot be used; the message names the file, the line and the key.</summary>
internal sealed class ConfigException : LatchException
{
    public ConfigException() { }

    public ConfigException(string message) : base(message) { }

    public ConfigException(string message, Exception innerException) : base(message, innerException) { }
}
