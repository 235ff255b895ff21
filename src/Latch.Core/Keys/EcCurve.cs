using System.Globalization;
using System.Numerics;
using System.Text;

namespace Latch.Core.Keys;

/// <summary>A NIST prime curve as SSH names it (RFC 5656), with what a public point on it must satisfy.</summary>
internal sealed class EcCurve
{
    public static readonly EcCurve NistP256 = new(
        "nistp256",
        32,
        "ffffffff00000001000000000000000000000000ffffffffffffffffffffffff",
        "5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b",
        "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");

    public static readonly EcCurve NistP384 = new(
        "nistp384",
        48,
        "fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffff",
        "b3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aef",
        "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973");

    public static readonly EcCurve NistP521 = new(
        "nistp521",
        66,
        "01ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        "0051953eb9618e1c9a1f929a21a0b68540eea2da725b99b315f3b8b489918ef109e156193951ec7e937b1652c0bd3bb1bf073573df883d2c34f1ef451fd46b503f00",
        "01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409");

    private readonly BigInteger _p;
    private readonly BigInteger _b;
    private readonly long _orderBits;

    private EcCurve(string name, int coordinateSize, string p, string b, string order)
    {
        Name = name;
        NameUtf8 = Encoding.ASCII.GetBytes(name);
        CoordinateSize = coordinateSize;
        _p = ParseHex(p);
        _b = ParseHex(b);
        _orderBits = ParseHex(order).GetBitLength();
    }

    public string Name { get; }

    public byte[] NameUtf8 { get; }

    /// <summary>Bytes per coordinate; an uncompressed point is 0x04 followed by X and Y.</summary>
    public int CoordinateSize { get; }

    public int PointSize => 1 + (2 * CoordinateSize);

    public int Bits => Name switch
    {
        "nistp256" => 256,
        "nistp384" => 384,
        _ => 521,
    };

    /// <summary>
    /// The checks OpenSSH's sshkey_ec_validate_public makes on an uncompressed point: coordinates below p,
    /// neither trivially small, and y² = x³ − 3x + b (mod p). The curves have cofactor 1, so a point on the
    /// curve that is not the point at infinity has the full order.
    /// </summary>
    public string? CheckPoint(ReadOnlySpan<byte> point)
    {
        var x = new BigInteger(point.Slice(1, CoordinateSize), isUnsigned: true, isBigEndian: true);
        var y = new BigInteger(point.Slice(1 + CoordinateSize, CoordinateSize), isUnsigned: true, isBigEndian: true);
        if (x >= _p || y >= _p)
        {
            return $"ECDSA point has a coordinate outside the field of {Name}";
        }

        if (x.GetBitLength() <= _orderBits / 2 || y.GetBitLength() <= _orderBits / 2)
        {
            return $"ECDSA point has an implausibly small coordinate for {Name}";
        }

        var lhs = y * y % _p;
        var rhs = ((((x * x) % _p) * x) - (3 * x) + _b) % _p;
        if (rhs.Sign < 0)
        {
            rhs += _p;
        }

        return lhs == rhs ? null : $"ECDSA point is not on curve {Name}";
    }

    private static BigInteger ParseHex(string hex) => BigInteger.Parse("0" + hex, NumberStyles.HexNumber, CultureInfo.InvariantCulture);

    public override string ToString() => Name;
}
