using System.Buffers.Binary;
using CocoLaunch.Firmware.Snp;
using CocoLaunch.Formats.Igvm;

namespace CocoLaunch.Vmm.Igvm;

/// <summary>
/// An IGVM SNP_ID_BLOCK as the ID block and ID auth LAUNCH_FINISH takes. The file stores signatures as R then S and
/// keys as curve, Qx, Qy, each component 72 bytes little-endian: the same order AMD's formats use, so they are
/// copied as they are, and the policy comes from the file's GUEST_POLICY.
/// </summary>
internal static class IgvmIdBlock
{
    public static (byte[] Block, byte[] Auth) ToSnp(IgvmSnpIdentity b, ulong policy)
    {
        var block = new IdBlock(b.Ld.ToArray(), b.FamilyId.ToArray(), b.ImageId.ToArray(), b.GuestSvn, policy, b.Version).ToBytes();
        var auth = IdAuth.Assemble(
            b.IdKeyAlgorithm,
            b.AuthorKeyAlgorithm,
            Signature(b.IdKeySignature),
            Key(b.IdPublicKey),
            b.AuthorKeyEnabled != 0 ? Signature(b.AuthorKeySignature) : [],
            b.AuthorKeyEnabled != 0 ? Key(b.AuthorPublicKey) : []);
        return (block, auth);
    }

    /// <summary>The reverse: a spec's ID block and ID auth as the file's SNP_ID_BLOCK (the policy goes in GUEST_POLICY).</summary>
    public static IgvmSnpIdentity FromSnp(byte[] idBlock, byte[] idAuth)
    {
        var b = IdBlock.Parse(idBlock);
        var authorKey = IdAuth.AuthorKey(idAuth);
        return new IgvmSnpIdentity(
            authorKey.ContainsAnyExcept((byte)0) ? (byte)1 : (byte)0, // as QEMU's author-key-enabled is derived at LAUNCH_FINISH
            b.LaunchDigest,
            b.FamilyId,
            b.ImageId,
            b.Version,
            b.GuestSvn,
            IdAuth.IdKeyAlgorithm(idAuth),
            IdAuth.AuthorKeyAlgorithm(idAuth),
            Signature(IdAuth.IdBlockSignature(idAuth)),
            Key(IdAuth.IdKey(idAuth)),
            Signature(IdAuth.IdKeySignature(idAuth)),
            Key(authorKey));
    }

    // AMD's forms: a signature is R then S, a key the curve then Qx and Qy, each component 72 bytes from the offsets below.
    private const int Component = 72, KeyQx = 4;

    private static IgvmSnpSignature Signature(ReadOnlySpan<byte> amd) => new(amd[..Component].ToArray(), amd.Slice(Component, Component).ToArray());

    private static IgvmSnpPublicKey Key(ReadOnlySpan<byte> amd) =>
        new(BinaryPrimitives.ReadUInt32LittleEndian(amd), amd.Slice(KeyQx, Component).ToArray(), amd.Slice(KeyQx + Component, Component).ToArray());

    private static byte[] Signature(IgvmSnpSignature s) => [.. s.R.Span, .. s.S.Span];

    private static byte[] Key(IgvmSnpPublicKey k)
    {
        var curve = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(curve, k.Curve);
        return [.. curve, .. k.Qx.Span, .. k.Qy.Span];
    }
}
