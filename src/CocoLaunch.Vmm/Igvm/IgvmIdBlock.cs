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
    public static (byte[] Block, byte[] Auth) ToSnp(IgvmSnpIdBlock b, ulong policy)
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

    private static byte[] Signature(IgvmSnpSignature s) => [.. s.R.Span, .. s.S.Span];

    private static byte[] Key(IgvmSnpPublicKey k)
    {
        var curve = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(curve, k.Curve);
        return [.. curve, .. k.Qx.Span, .. k.Qy.Span];
    }
}
