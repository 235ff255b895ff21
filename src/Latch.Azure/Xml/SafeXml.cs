using System.Xml;
using System.Xml.Linq;

namespace Latch.Azure.Xml;

/// <summary>
/// Loads XML from Azure with every expansion door shut: no DTD (so no entities, no XXE, no billion laughs),
/// no resolver, a byte limit checked before parsing and a character limit enforced while parsing.
/// </summary>
internal static class SafeXml
{
    public static XDocument Load(ReadOnlySpan<byte> bytes, string documentName, int maxBytes)
    {
        if (bytes.Length > maxBytes)
        {
            throw new AzureFormatException($"{documentName} is {bytes.Length} bytes; the limit is {maxBytes} bytes. Refusing to parse it.");
        }

        var utf8Bom = "\uFEFF"u8;
        if (bytes.StartsWith(utf8Bom))
        {
            bytes = bytes[utf8Bom.Length..];
        }

        if (bytes.IsEmpty)
        {
            throw new AzureFormatException($"{documentName} is empty.");
        }

        var settings = new XmlReaderSettings
        {
            DtdProcessing = DtdProcessing.Prohibit,
            XmlResolver = null,
            MaxCharactersInDocument = maxBytes,
            MaxCharactersFromEntities = 1024,
            IgnoreComments = true,
            IgnoreProcessingInstructions = true,
            CloseInput = true,
        };
        try
        {
            using var stream = new MemoryStream(bytes.ToArray(), writable: false);
            using var reader = XmlReader.Create(stream, settings);
            return XDocument.Load(reader, LoadOptions.None);
        }
        catch (XmlException e) when (bytes.IndexOf("<!DOCTYPE"u8) >= 0 || bytes.IndexOf("<!ENTITY"u8) >= 0)
        {
            throw new AzureFormatException(
                $"{documentName} contains a DTD (<!DOCTYPE>/<!ENTITY>), which is refused: entity declarations enable external-entity reads and entity-expansion bombs. Azure never sends one; check where this document came from.",
                e);
        }
        catch (XmlException e)
        {
            throw new AzureFormatException($"{documentName} is not well-formed XML (line {e.LineNumber}, position {e.LinePosition}): {e.Message}", e);
        }
    }

    /// <summary>Reads a whole stream, stopping with a clear error one byte past <paramref name="maxBytes"/>.</summary>
    public static byte[] ReadBounded(Stream stream, string documentName, int maxBytes)
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int read;
        while ((read = stream.Read(chunk, 0, chunk.Length)) > 0)
        {
            if (buffer.Length + read > maxBytes)
            {
                throw new AzureFormatException($"{documentName} is larger than the {maxBytes}-byte limit. Refusing to parse it.");
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }

    /// <summary>The first child element with this local name (any namespace), or null.</summary>
    public static XElement? Child(this XElement parent, string localName) =>
        parent.Elements().FirstOrDefault(e => e.Name.LocalName == localName);

    public static IEnumerable<XElement> Children(this XElement parent, string localName) =>
        parent.Elements().Where(e => e.Name.LocalName == localName);

    /// <summary>Trimmed text of a child element; null when the element is missing or empty.</summary>
    public static string? ChildText(this XElement parent, string localName) =>
        parent.Child(localName)?.Value.Trim() is { Length: > 0 } text ? text : null;
}
