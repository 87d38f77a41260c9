using System.Buffers.Binary;
using System.Security.Cryptography;

namespace CocoLaunch.Firmware.Snp;

/// <summary>
/// AMD's formats for ECDSA P-384 (snp-launch-digest.md §14): a 0x404-byte public key {curve u32 = 2, QX[72] LE,
/// QY[72] LE} and a 0x200-byte signature {R[72] LE, S[72] LE}. Coordinates are little-endian and zero-padded
/// to 72 bytes, where .NET's are big-endian and 48 bytes.
/// </summary>
public static class AmdEcdsa
{
    public const int PublicKeySize = 0x404;
    public const int SignatureSize = 0x200;
    public const uint CurveP384 = 2;

    private const int Component = 72;
    private const int P384Bytes = 48;
    private const int CurveOffset = 0x00;
    private const int QxOffset = 0x04;
    private const int QyOffset = 0x4C;
    private const int ROffset = 0x00;
    private const int SOffset = 0x48;

    public static byte[] PublicKey(ECDsa key)
    {
        var q = key.ExportParameters(includePrivateParameters: false).Q;
        var b = new byte[PublicKeySize];
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(CurveOffset), CurveP384);
        LittleEndian(q.X!, b.AsSpan(QxOffset, Component));
        LittleEndian(q.Y!, b.AsSpan(QyOffset, Component));
        return b;
    }

    /// <summary>The key in <paramref name="amd"/>, or null when its curve is not P-384 or the point is not on it.</summary>
    public static ECDsa? ImportPublicKey(ReadOnlySpan<byte> amd)
    {
        if (amd.Length != PublicKeySize || BinaryPrimitives.ReadUInt32LittleEndian(amd[CurveOffset..]) != CurveP384)
        {
            return null;
        }

        try
        {
            return ECDsa.Create(new ECParameters
            {
                Curve = ECCurve.NamedCurves.nistP384,
                Q = new ECPoint { X = BigEndian(amd.Slice(QxOffset, Component)), Y = BigEndian(amd.Slice(QyOffset, Component)) },
            });
        }
        catch (CryptographicException)
        {
            return null;
        }
    }

    /// <summary>Signs <paramref name="data"/> with SHA-384, in AMD's signature format.</summary>
    public static byte[] Sign(ECDsa key, ReadOnlySpan<byte> data)
    {
        byte[] rs = key.SignData(data, HashAlgorithmName.SHA384, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        var b = new byte[SignatureSize];
        LittleEndian(rs.AsSpan(0, P384Bytes), b.AsSpan(ROffset, Component));
        LittleEndian(rs.AsSpan(P384Bytes, P384Bytes), b.AsSpan(SOffset, Component));
        return b;
    }

    public static bool Verify(ReadOnlySpan<byte> amdPublicKey, ReadOnlySpan<byte> data, ReadOnlySpan<byte> amdSignature)
    {
        using var key = ImportPublicKey(amdPublicKey);
        if (key is null || amdSignature.Length != SignatureSize)
        {
            return false;
        }

        var rs = new byte[2 * P384Bytes];
        BigEndian(amdSignature.Slice(ROffset, Component)).CopyTo(rs, 0);
        BigEndian(amdSignature.Slice(SOffset, Component)).CopyTo(rs, P384Bytes);
        return key.VerifyData(data, rs, HashAlgorithmName.SHA384, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
    }

    private static void LittleEndian(ReadOnlySpan<byte> bigEndian, Span<byte> field)
    {
        for (int i = 0; i < bigEndian.Length; i++)
        {
            field[i] = bigEndian[bigEndian.Length - 1 - i];
        }
    }

    /// <summary>The low 48 bytes of a 72-byte little-endian field, big-endian (the padding must be zero to verify).</summary>
    private static byte[] BigEndian(ReadOnlySpan<byte> field)
    {
        var b = new byte[P384Bytes];
        for (int i = 0; i < P384Bytes; i++)
        {
            b[i] = field[P384Bytes - 1 - i];
        }

        return field[P384Bytes..].ContainsAnyExcept((byte)0) ? new byte[P384Bytes] : b;
    }
}
