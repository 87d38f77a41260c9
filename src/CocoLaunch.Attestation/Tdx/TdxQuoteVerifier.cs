using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using CocoLaunch.Attestation.Certificates;
using CocoLaunch.Attestation.Tdx.Collateral;

namespace CocoLaunch.Attestation.Tdx;

/// <summary>
/// Verifies a TDX quote (tdx-mrtd.md §9): the PCK chain up to the given root, the QE report's signature by the PCK key
/// and its binding of the attestation key, the quote's signature, then MRTD, RTMRs, attributes and report data.
/// With Intel's collateral (TCB info, QE identity, CRLs), <see cref="TdxCollateralVerifier"/> adds the TCB status.
/// </summary>
public static class TdxQuoteVerifier
{
    private const ulong AttributeDebug = 1;

    public static VerificationResult Verify(TdxQuote quote, X509Certificate2 root, EvidencePolicy policy, string name, IntelCollateral? collateral = null)
    {
        var findings = new List<Finding>();
        var chain = quote.PckChain(name);
        var at = policy.At ?? DateTimeOffset.UtcNow;
        string? chainProblem = CertificateChain.Verify(chain, root, at);
        findings.Add(new("chain", chainProblem is null, chainProblem ?? $"PCK ← … ← {CertificateChain.Describe(root)}"));

        using var pck = Crypto.Attempt<ECDsa>(chain[0].GetECDsaPublicKey, out string? pckError);
        bool p256 = pck is not null && pck.KeySize == 256;
        findings.Add(new("pck-key", p256, p256 ? "EC P-256" : pckError is not null ? $"the PCK certificate's public key cannot be read: {pckError}" : $"the PCK certificate's key is {chain[0].PublicKey.Oid.FriendlyName ?? chain[0].PublicKey.Oid.Value}, not EC P-256"));
        string? qeError = null;
        bool qeSigned = p256 && Crypto.Attempt(() => pck!.VerifyData(quote.QeReport.Span, quote.QeReportSignature.Span, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation), out qeError);
        findings.Add(new("qe-report-signature", qeSigned, qeSigned ? "the QE report is signed by the PCK key"
            : qeError is not null ? $"the QE report's signature cannot be checked: {qeError}" : "the QE report's signature does not verify with the PCK key"));

        var expected = SHA256.HashData([.. quote.AttestationKey.Span, .. quote.QeAuthData.Span]);
        bool bound = quote.QeReport.ReportData[..32].SequenceEqual(expected) && quote.QeReport.ReportData[32..].IndexOfAnyExcept((byte)0) < 0;
        findings.Add(new("qe-report-data", bound, bound ? "the QE report binds the attestation key" : "the QE report's REPORTDATA is not SHA-256(attestation key ‖ QE auth data)"));

        // The attestation key is 64 raw bytes of the quote: a flipped bit makes a point off the curve, which OpenSSL refuses to import.
        using var key = Crypto.Attempt(() => ECDsa.Create(new ECParameters
        {
            Curve = ECCurve.NamedCurves.nistP256,
            Q = new ECPoint { X = quote.AttestationKey.Span[..32].ToArray(), Y = quote.AttestationKey.Span[32..].ToArray() },
        }), out string? keyError);
        findings.Add(new("attestation-key", key is not null, key is not null ? "a P-256 point" : $"the quote's attestation key is not a P-256 public key: {keyError}"));
        string? signatureError = null;
        bool signed = key is not null && Crypto.Attempt(() => key.VerifyData(quote.SignedPart.Span, quote.Signature.Span, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation), out signatureError);
        findings.Add(new("signature", signed, signed ? "the quote is signed by the attestation key"
            : key is null ? "not checked: the attestation key is unusable" : signatureError is not null ? $"the quote's signature cannot be checked: {signatureError}" : "the quote's signature does not verify with its attestation key"));

        string mrtd = Convert.ToHexStringLower(quote.Mrtd);
        if (policy.Measurements is { } allowed)
        {
            bool ok = allowed.Contains(mrtd);
            findings.Add(new("measurement", ok, ok ? $"MRTD {mrtd} is a reference value" : $"MRTD {mrtd} is not among the {allowed.Count} reference value(s)"));
        }

        if (policy.Rtmrs is { } rtmrs)
        {
            for (int i = 0; i < Math.Min(4, rtmrs.Count); i++)
            {
                if (rtmrs[i] is { } want)
                {
                    string got = Convert.ToHexStringLower(quote.Rtmr(i));
                    findings.Add(new($"rtmr{i}", got == want, $"RTMR{i} {got}{(got == want ? string.Empty : $", expected {want}")}"));
                }
            }
        }

        bool debug = (quote.TdAttributes & AttributeDebug) != 0;
        findings.Add(new("policy.debug", !debug || policy.AllowDebug, debug
            ? $"TDATTRIBUTES 0x{quote.TdAttributes:x16} has DEBUG (bit 0){(policy.AllowDebug ? ", which is allowed here" : string.Empty)}"
            : $"TDATTRIBUTES 0x{quote.TdAttributes:x16}: not a debug TD"));

        if (policy.ReportData is { } data)
        {
            bool same = quote.ReportData.SequenceEqual(data);
            findings.Add(new("policy.report-data", same, same ? "REPORTDATA is as expected" : $"REPORTDATA {Convert.ToHexStringLower(quote.ReportData)} is not {Convert.ToHexStringLower(data)}"));
        }

        if (collateral is not null)
        {
            findings.AddRange(TdxCollateralVerifier.Verify(quote, chain, root, collateral, policy));
        }

        return new VerificationResult("tdx-quote", findings);
    }
}
