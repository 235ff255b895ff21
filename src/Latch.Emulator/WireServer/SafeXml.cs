using System.Xml;
using System.Xml.Linq;

namespace Latch.Emulator.WireServer;

/// <summary>Parses untrusted XML: no DTD, no external resolution, bounded size.</summary>
internal static class SafeXml
{
    public const int MaxCharacters = 1 << 20;

    public static XmlReaderSettings Settings => new()
    {
        DtdProcessing = DtdProcessing.Prohibit,
        XmlResolver = null,
        MaxCharactersInDocument = MaxCharacters,
        MaxCharactersFromEntities = 0,
        IgnoreComments = true,
        IgnoreProcessingInstructions = true,
    };

    /// <summary>Returns the document, or null with <paramref name="error"/> saying why it is not acceptable XML.</summary>
    public static XDocument? TryParse(string text, out string? error)
    {
        try
        {
            using var reader = XmlReader.Create(new StringReader(text.TrimStart('\uFEFF')), Settings);
            error = null;
            return XDocument.Load(reader);
        }
        catch (XmlException e)
        {
            error = "malformed XML: " + e.Message;
            return null;
        }
    }

    /// <summary>The text of the first descendant path (local names, namespaces ignored), or null.</summary>
    public static string? Text(XElement? element, params string[] path)
    {
        var current = element;
        foreach (var name in path)
        {
            current = current?.Elements().FirstOrDefault(e => e.Name.LocalName == name);
        }

        return current?.Value;
    }

    public static XElement? Element(XElement? element, params string[] path)
    {
        var current = element;
        foreach (var name in path)
        {
            current = current?.Elements().FirstOrDefault(e => e.Name.LocalName == name);
        }

        return current;
    }
}
