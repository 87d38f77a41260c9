using System.Buffers.Binary;
using System.Security.Cryptography;

namespace CocoLaunch.Firmware.Snp;

/// <summary>
/// The 4096-byte ID authentication information (snp-launch-digest.md §14): the ID key's signature over the ID
/// block, the ID key, and optionally the author key's signature over the ID key, and the author key.
/// </summary>
public static class IdAuth
{
    public const int Size = 0x1000;
    public const uint AlgoEcdsaP384Sha384 = 1;

    private const int IdKeyAlgoOffset = 0x000;
    private const int AuthorKeyAlgoOffset = 0x004;
    private const int IdBlockSigOffset = 0x040;
    private const int IdKeyOffset = 0x240;
    private const int IdKeySigOffset = 0x680;
    private const int AuthorKeyOffset = 0x880;

    /// <summary>Signs <paramref name="idBlock"/> with <paramref name="idKey"/> and, if given, the ID key with <paramref name="authorKey"/>.</summary>
    public static byte[] Build(ReadOnlySpan<byte> idBlock, ECDsa idKey, ECDsa? authorKey = null)
    {
        var b = new byte[Size];
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(IdKeyAlgoOffset), AlgoEcdsaP384Sha384);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(AuthorKeyAlgoOffset), AlgoEcdsaP384Sha384);
        AmdEcdsa.Sign(idKey, idBlock).CopyTo(b, IdBlockSigOffset);
        byte[] idPublic = AmdEcdsa.PublicKey(idKey);
        idPublic.CopyTo(b, IdKeyOffset);
        if (authorKey is not null)
        {
            AmdEcdsa.Sign(authorKey, idPublic).CopyTo(b, IdKeySigOffset);
            AmdEcdsa.PublicKey(authorKey).CopyTo(b, AuthorKeyOffset);
        }

        return b;
    }

    /// <summary>Lays out ID auth from parts already signed elsewhere (an IGVM file's SNP_ID_BLOCK), each in AMD's format.</summary>
    public static byte[] Assemble(uint idKeyAlgorithm, uint authorKeyAlgorithm, ReadOnlySpan<byte> idBlockSignature, ReadOnlySpan<byte> idKey, ReadOnlySpan<byte> idKeySignature, ReadOnlySpan<byte> authorKey)
    {
        var b = new byte[Size];
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(IdKeyAlgoOffset), idKeyAlgorithm);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(AuthorKeyAlgoOffset), authorKeyAlgorithm);
        idBlockSignature.CopyTo(b.AsSpan(IdBlockSigOffset, AmdEcdsa.SignatureSize));
        idKey.CopyTo(b.AsSpan(IdKeyOffset, AmdEcdsa.PublicKeySize));
        idKeySignature.CopyTo(b.AsSpan(IdKeySigOffset, AmdEcdsa.SignatureSize));
        authorKey.CopyTo(b.AsSpan(AuthorKeyOffset, AmdEcdsa.PublicKeySize));
        return b;
    }

    public static ReadOnlySpan<byte> IdKey(ReadOnlySpan<byte> auth) => auth.Slice(IdKeyOffset, AmdEcdsa.PublicKeySize);

    public static uint IdKeyAlgorithm(ReadOnlySpan<byte> auth) => BinaryPrimitives.ReadUInt32LittleEndian(auth[IdKeyAlgoOffset..]);

    public static uint AuthorKeyAlgorithm(ReadOnlySpan<byte> auth) => BinaryPrimitives.ReadUInt32LittleEndian(auth[AuthorKeyAlgoOffset..]);

    /// <summary>The ID key's signature over the ID block, in AMD's 0x200-byte form.</summary>
    public static ReadOnlySpan<byte> IdBlockSignature(ReadOnlySpan<byte> auth) => auth.Slice(IdBlockSigOffset, AmdEcdsa.SignatureSize);

    /// <summary>The author key's signature over the ID key (zeros without an author key).</summary>
    public static ReadOnlySpan<byte> IdKeySignature(ReadOnlySpan<byte> auth) => auth.Slice(IdKeySigOffset, AmdEcdsa.SignatureSize);

    public static ReadOnlySpan<byte> AuthorKey(ReadOnlySpan<byte> auth) => auth.Slice(AuthorKeyOffset, AmdEcdsa.PublicKeySize);

    /// <summary>The firmware's signature checks (steps 3 and 4 of the binding): null when they pass, else why not.</summary>
    public static string? Verify(ReadOnlySpan<byte> idBlock, ReadOnlySpan<byte> auth, bool authorKeyEnabled)
    {
        if (BinaryPrimitives.ReadUInt32LittleEndian(auth[IdKeyAlgoOffset..]) != AlgoEcdsaP384Sha384)
        {
            return "ID_KEY_ALGO is not 1 (ECDSA P-384 with SHA-384)";
        }

        if (!AmdEcdsa.Verify(IdKey(auth), idBlock, auth.Slice(IdBlockSigOffset, AmdEcdsa.SignatureSize)))
        {
            return "ID_BLOCK_SIG does not verify with ID_KEY";
        }

        if (authorKeyEnabled)
        {
            if (BinaryPrimitives.ReadUInt32LittleEndian(auth[AuthorKeyAlgoOffset..]) != AlgoEcdsaP384Sha384)
            {
                return "AUTHOR_KEY_ALGO is not 1 (ECDSA P-384 with SHA-384)";
            }

            if (!AmdEcdsa.Verify(AuthorKey(auth), IdKey(auth), auth.Slice(IdKeySigOffset, AmdEcdsa.SignatureSize)))
            {
                return "ID_KEY_SIG does not verify with AUTHOR_KEY";
            }
        }

        return null;
    }
}
