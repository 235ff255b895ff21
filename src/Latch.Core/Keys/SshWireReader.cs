using System.Buffers.Binary;

namespace Latch.Core.Keys;

/// <summary>
/// Reads the SSH wire format (RFC 4251 §5): uint32, uint64, string (uint32 length + bytes) and mpint. A read
/// that runs past the end fails and records how many bytes were missing, for "N bytes short" messages.
/// </summary>
internal ref struct SshWireReader(ReadOnlySpan<byte> data)
{
    private readonly ReadOnlySpan<byte> _data = data;
    private int _position;

    public readonly int Remaining => _data.Length - _position;

    public readonly int Position => _position;

    /// <summary>How many bytes the failed read wanted beyond the end of the data.</summary>
    public long ShortBy { get; private set; }

    public bool TryReadUInt32(out uint value)
    {
        if (Remaining < 4)
        {
            ShortBy = 4 - Remaining;
            value = 0;
            return false;
        }

        value = BinaryPrimitives.ReadUInt32BigEndian(_data.Slice(_position, 4));
        _position += 4;
        return true;
    }

    public bool TryReadUInt64(out ulong value)
    {
        if (Remaining < 8)
        {
            ShortBy = 8 - Remaining;
            value = 0;
            return false;
        }

        value = BinaryPrimitives.ReadUInt64BigEndian(_data.Slice(_position, 8));
        _position += 8;
        return true;
    }

    public bool TryReadString(out ReadOnlySpan<byte> value)
    {
        value = default;
        if (!TryReadUInt32(out var length))
        {
            return false;
        }

        if (length > (uint)Remaining)
        {
            ShortBy = length - (uint)Remaining;
            return false;
        }

        value = _data.Slice(_position, (int)length);
        _position += (int)length;
        return true;
    }

    /// <summary>An mpint: two's complement, big-endian; <paramref name="magnitude"/> has leading zeros removed.</summary>
    public bool TryReadMpint(out ReadOnlySpan<byte> magnitude, out bool negative)
    {
        negative = false;
        if (!TryReadString(out magnitude))
        {
            return false;
        }

        negative = magnitude.Length > 0 && (magnitude[0] & 0x80) != 0;
        var zeros = 0;
        while (zeros < magnitude.Length && magnitude[zeros] == 0)
        {
            zeros++;
        }

        magnitude = magnitude[zeros..];
        return true;
    }
}
