namespace CocoLaunch.Attestation.Tdx.Collateral;

/// <summary>
/// Whether TCB info is about this quote's platform and TDX module: a TDX TCB info whose FMSPC and PCE-ID are the PCK
/// certificate's, and a module identity whose MRSIGNER is MRSIGNERSEAM and whose attributes are SEAMATTRIBUTES under
/// its mask (the checks go-tdx-guest's verifyTdQuoteBody and dcap-qvl make before the TCB status).
/// </summary>
internal static class PlatformCheck
{
    public static Finding Platform(TcbInfo info, PckExtensions? pck, string? pckProblem)
    {
        if (info.Id != "TDX")
        {
            return new("tcb-info.platform", false, $"the TCB info's id is '{info.Id}', not TDX: it is not for TDX quotes");
        }

        if (pck is null)
        {
            return new("tcb-info.platform", false, pckProblem!);
        }

        string ours = $"FMSPC {Convert.ToHexStringLower(pck.Fmspc)}, PCE-ID {Convert.ToHexStringLower(pck.PceId)}";
        bool same = pck.Fmspc.AsSpan().SequenceEqual(info.Fmspc) && pck.PceId.AsSpan().SequenceEqual(info.PceId);
        return new("tcb-info.platform", same, same
            ? $"TDX TCB info for the PCK certificate's {ours} (evaluation data number {info.EvaluationDataNumber})"
            : $"the TCB info is for FMSPC {Convert.ToHexStringLower(info.Fmspc)}, PCE-ID {Convert.ToHexStringLower(info.PceId)}; the PCK certificate has {ours}");
    }

    public static Finding Module(TcbInfo info, TdxQuote quote)
    {
        var (identity, problem) = TdxTcbEvaluation.ModuleIdentity(info, quote.TeeTcbSvn);
        if (identity is null)
        {
            return new("tcb-info.tdx-module", false, problem!);
        }

        var attributes = quote.SeamAttributes.ToArray();
        for (int i = 0; i < attributes.Length; i++)
        {
            attributes[i] &= identity.AttributesMask[i];
        }

        bool signer = quote.MrSignerSeam.SequenceEqual(identity.MrSigner), attrs = attributes.AsSpan().SequenceEqual(identity.Attributes);
        string what = $"{identity.Id}: MRSIGNERSEAM {Convert.ToHexStringLower(quote.MrSignerSeam)}, SEAMATTRIBUTES {Convert.ToHexStringLower(quote.SeamAttributes)}";
        return new("tcb-info.tdx-module", signer && attrs, signer && attrs ? $"{what} as the TCB info states"
            : !signer ? $"{what}: the TCB info's MRSIGNER is {Convert.ToHexStringLower(identity.MrSigner)}"
            : $"{what}: under the mask {Convert.ToHexStringLower(identity.AttributesMask)} the TCB info wants {Convert.ToHexStringLower(identity.Attributes)}");
    }
}
