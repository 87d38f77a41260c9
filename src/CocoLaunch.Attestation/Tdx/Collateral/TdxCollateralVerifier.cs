using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using CocoLaunch.Attestation.Certificates;

namespace CocoLaunch.Attestation.Tdx.Collateral;

/// <summary>
/// Checks a TDX quote against Intel's collateral, offline, as go-tdx-guest's verify and dcap-qvl do: the collateral's
/// signatures up to the Intel root, its period, that it describes this platform and TDX module, the TCB status of the
/// platform, module and QE, and the CRLs given.
/// </summary>
public static class TdxCollateralVerifier
{
    private const string TcbSigningName = "Intel SGX TCB Signing";

    public static IEnumerable<Finding> Verify(TdxQuote quote, IReadOnlyList<X509Certificate2> pckChain, X509Certificate2 root, IntelCollateral collateral, EvidencePolicy policy)
    {
        var at = policy.At ?? DateTimeOffset.UtcNow;
        var allowed = policy.AllowedTcbStatuses ?? new HashSet<string> { TcbStatus.UpToDate };
        var findings = new List<Finding>();
        X509Certificate2? signer = null;
        if (collateral.TcbInfoDocument is not null || collateral.QeIdentityDocument is not null)
        {
            // Any certificate under the Intel root verifies against it, a PCK certificate too: the signer must be the one
            // Intel names for collateral (go-tdx-guest's verify checks the same common name).
            string? problem = collateral.SigningChain.Count == 0 ? "no TCB-Info-Issuer-Chain was given"
                : collateral.SigningChain[0].GetNameInfo(X509NameType.SimpleName, false) != TcbSigningName ? $"{CertificateChain.Describe(collateral.SigningChain[0])} is not the {TcbSigningName} certificate"
                : CertificateChain.Verify(collateral.SigningChain, root, at);
            findings.Add(new("tcb-signing-chain", problem is null, problem ?? $"{CertificateChain.Describe(collateral.SigningChain[0])} ← {CertificateChain.Describe(root)}"));
            signer = problem is null ? collateral.SigningChain[0] : null;
        }

        IsvSvnLevel? qeLevel = null;
        if (collateral.QeIdentity is { } qe)
        {
            findings.Add(SignatureFinding("qe-identity.signature", collateral.QeIdentityDocument!, signer));
            findings.Add(Period("qe-identity.period", qe.IssueDate, qe.NextUpdate, at));
            findings.Add(QeIdentityCheck.Enclave(qe, quote.QeReport));
            qeLevel = qe.Levels.FirstOrDefault(l => l.IsvSvn <= quote.QeReport.IsvSvn);
            findings.Add(qeLevel is null
                ? new("qe-tcb-status", false, $"QE ISV SVN {quote.QeReport.IsvSvn} is below every level of the QE identity: Intel does not support it")
                : StatusFinding("qe-tcb-status", qeLevel.Status, qeLevel.Advisories, $"QE ISV SVN {quote.QeReport.IsvSvn}: level of {qeLevel.TcbDate:yyyy-MM-dd}", allowed));
        }

        if (collateral.TcbInfo is { } info)
        {
            findings.Add(SignatureFinding("tcb-info.signature", collateral.TcbInfoDocument!, signer));
            findings.Add(Period("tcb-info.period", info.IssueDate, info.NextUpdate, at));
            var pck = PckExtensions.Read(pckChain[0], out string? pckProblem);
            var platform = PlatformCheck.Platform(info, pck, pckProblem);
            findings.Add(platform);
            findings.Add(PlatformCheck.Module(info, quote));
            if (!platform.Passed)
            {
                findings.Add(new("tcb-status", false, "not evaluated: the TCB info does not describe this platform"));
            }
            else
            {
                var verdict = TdxTcbEvaluation.Evaluate(info, pck!, quote, qeLevel);
                findings.Add(verdict.Status is { } status
                    ? StatusFinding("tcb-status", status, verdict.Advisories, verdict.Detail, allowed)
                    : new("tcb-status", false, verdict.Detail));
            }
        }

        IReadOnlyList<X509Certificate2> relied = [.. pckChain, root, .. collateral.SigningChain];
        findings.AddRange(collateral.Crls.Select(crl => RevocationCheck.Check(crl, relied, at)));
        return findings;
    }

    private static Finding StatusFinding(string check, string status, IReadOnlyList<string> advisories, string detail, IReadOnlySet<string> allowed)
    {
        bool ok = allowed.Contains(status);
        string advice = advisories.Count == 0 ? string.Empty : $" [{string.Join(", ", advisories)}]";
        return new(check, ok, $"{status}{advice}: {detail}{(ok ? string.Empty : $"; accepted: {string.Join(", ", allowed.Order(StringComparer.Ordinal))}")}");
    }

    private static Finding SignatureFinding(string check, SignedDocument document, X509Certificate2? signer)
    {
        if (signer is null)
        {
            return new(check, false, "not checked: the TCB Signing chain failed (tcb-signing-chain)");
        }

        string? error = null;
        using var key = Crypto.Attempt<ECDsa>(signer.GetECDsaPublicKey, out error);
        bool ok = key is not null && Crypto.Attempt(() => key.VerifyData(document.Signed.Span, document.Signature, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation), out error);
        return new(check, ok, ok ? $"{document.File}: signed by {CertificateChain.Describe(signer)}"
            : $"{document.File}: the signature does not verify with {CertificateChain.Describe(signer)}{(error is null ? string.Empty : $" ({error})")}");
    }

    private static Finding Period(string check, DateTimeOffset issued, DateTimeOffset nextUpdate, DateTimeOffset at)
    {
        bool ok = at >= issued && at <= nextUpdate;
        return new(check, ok, $"issued {issued:yyyy-MM-dd HH:mm:ss}Z, next update {nextUpdate:yyyy-MM-dd HH:mm:ss}Z{(ok ? string.Empty : at < issued ? $": not yet issued at {at:yyyy-MM-dd HH:mm:ss}Z" : $": expired at {at:yyyy-MM-dd HH:mm:ss}Z")}");
    }
}
