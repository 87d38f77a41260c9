namespace CocoLaunch.Attestation.Tdx.Collateral;

/// <summary>
/// Whether the quote's QE is the enclave Intel's QE identity describes: a TD QE identity, the same MRSIGNER and
/// ISVPRODID, and MISCSELECT and ATTRIBUTES equal under their masks.
/// </summary>
internal static class QeIdentityCheck
{
    public static Finding Enclave(QeIdentity identity, QeReport report)
    {
        string? problem = identity.Id != "TD_QE" ? $"the QE identity's id is '{identity.Id}', not TD_QE: it is not the TDX quoting enclave's"
            : !report.MrSigner.SequenceEqual(identity.MrSigner) ? $"the QE's MRSIGNER {Convert.ToHexStringLower(report.MrSigner)} is not {Convert.ToHexStringLower(identity.MrSigner)}"
            : report.IsvProdId != identity.IsvProdId ? $"the QE's ISVPRODID {report.IsvProdId} is not {identity.IsvProdId}"
            : !Masked(report.MiscSelect, identity.MiscSelectMask).SequenceEqual(identity.MiscSelect) ? $"the QE's MISCSELECT {Convert.ToHexStringLower(report.MiscSelect)} under the mask {Convert.ToHexStringLower(identity.MiscSelectMask)} is not {Convert.ToHexStringLower(identity.MiscSelect)}"
            : !Masked(report.Attributes, identity.AttributesMask).SequenceEqual(identity.Attributes) ? $"the QE's ATTRIBUTES {Convert.ToHexStringLower(report.Attributes)} under the mask {Convert.ToHexStringLower(identity.AttributesMask)} are not {Convert.ToHexStringLower(identity.Attributes)}"
            : null;
        return new("qe-identity.enclave", problem is null, problem ?? $"TD_QE: MRSIGNER {Convert.ToHexStringLower(report.MrSigner)}, ISVPRODID {report.IsvProdId}, MISCSELECT and ATTRIBUTES as the QE identity states");
    }

    private static byte[] Masked(ReadOnlySpan<byte> value, ReadOnlySpan<byte> mask)
    {
        var result = value.ToArray();
        for (int i = 0; i < result.Length; i++)
        {
            result[i] &= mask[i];
        }

        return result;
    }
}
