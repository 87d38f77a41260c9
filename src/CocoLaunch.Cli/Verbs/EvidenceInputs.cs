using System.Security.Cryptography.X509Certificates;
using CocoLaunch.Attestation;
using CocoLaunch.Attestation.Certificates;
using CocoLaunch.Attestation.Snp;
using CocoLaunch.Attestation.Tdx.Collateral;
using CocoLaunch.Cli.Reports;

namespace CocoLaunch.Cli.Verbs;

/// <summary>
/// What verify-evidence reads besides the evidence and the root: an SNP report's certificates (VCEK and ASK, or VLEK
/// and ASVK), a TDX quote's Intel collateral, and CRLs for either. Options for the other kind of evidence are refused.
/// </summary>
internal static class EvidenceInputs
{
    public static void RejectOptionsOfTheOtherKind(VerifyEvidenceOptions o, EvidenceKind kind)
    {
        if (kind == EvidenceKind.TdxQuote && ((o.Vcek ?? o.Ask ?? o.Vlek ?? o.Asvk ?? o.MinTcb) is not null || o.Vmpls.Any()))
        {
            throw new CliInputException("--vcek, --ask, --vlek, --asvk, --min-tcb and --vmpl are for SNP reports; a TDX quote carries its PCK chain");
        }

        if (kind == EvidenceKind.SnpReport && ((o.TcbInfo ?? o.QeIdentity ?? o.TcbSigningChain ?? o.Collateral) is not null || o.TcbStatuses.Any()))
        {
            throw new CliInputException("--tcb-info, --qe-identity, --tcb-signing-chain, --collateral and --tcb-status are for TDX quotes");
        }
    }

    /// <summary>
    /// The VCEK and ASK, or for a report whose KEY_INFO names the VLEK (or when --vlek or --asvk is given) the VLEK and
    /// ASVK; files not named default to vcek, ask, vlek and asvk beside the report, as .pem or .der (AMD's KDS serves
    /// DER: vcek.der).
    /// </summary>
    public static SnpCertificates SnpCertificates(VerifyEvidenceOptions o, SnpReport report, X509Certificate2 ark, string dir)
    {
        bool vlek = (o.Vlek ?? o.Asvk) is not null || ((o.Vcek ?? o.Ask) is null && report.SigningKey == (uint)SigningKey.Vlek);
        if (vlek && (o.Vcek ?? o.Ask) is not null)
        {
            throw new CliInputException("give --vcek and --ask for a VCEK-signed report, or --vlek and --asvk for a VLEK-signed one, not both");
        }

        var signer = vlek ? VerifyEvidenceVerb.Certificate(o.Vlek ?? Beside(dir, "vlek"), "--vlek") : VerifyEvidenceVerb.Certificate(o.Vcek ?? Beside(dir, "vcek"), "--vcek");
        var intermediate = vlek ? VerifyEvidenceVerb.Certificate(o.Asvk ?? Beside(dir, "asvk"), "--asvk") : VerifyEvidenceVerb.Certificate(o.Ask ?? Beside(dir, "ask"), "--ask");
        return new SnpCertificates(signer, intermediate, ark, Crls(o));
    }

    /// <summary>NAME.pem beside the report, else NAME.der if that exists; the .pem path names what is missing.</summary>
    private static string Beside(string dir, string name)
    {
        string pem = Path.Combine(dir, name + ".pem"), der = Path.Combine(dir, name + ".der");
        return !File.Exists(pem) && File.Exists(der) ? der : pem;
    }

    /// <summary>The collateral given, or null when none is: then the quote is checked without it, as before.</summary>
    public static IntelCollateral? IntelCollateral(VerifyEvidenceOptions o)
    {
        bool pcs = (o.TcbInfo ?? o.QeIdentity ?? o.TcbSigningChain) is not null;
        if (o.Collateral is not null && pcs)
        {
            throw new CliInputException("--collateral holds the TCB info, QE identity and signing chain: give it or --tcb-info, --qe-identity and --tcb-signing-chain, not both");
        }

        if (pcs && (o.TcbSigningChain is null || (o.TcbInfo ?? o.QeIdentity) is null))
        {
            throw new CliInputException(o.TcbSigningChain is null
                ? "--tcb-info and --qe-identity need --tcb-signing-chain (the TCB-Info-Issuer-Chain PCS sends with them) to check their signatures"
                : "--tcb-signing-chain signs --tcb-info and --qe-identity: give at least one of them");
        }

        if (o.TcbStatuses.Any() && o.TcbInfo is null && o.Collateral is null)
        {
            throw new CliInputException("--tcb-status needs --tcb-info or --collateral: without TCB info there is no TCB status");
        }

        var crls = Crls(o);
        if (o.Collateral is { } file)
        {
            var all = Attestation.Tdx.Collateral.IntelCollateral.FromQuoteCollateralJson(ReferenceValueLoader.Read(file, "--collateral"), file);
            return all with { Crls = [.. all.Crls, .. crls] };
        }

        return !pcs && crls.Count == 0 ? null : Attestation.Tdx.Collateral.IntelCollateral.FromPcsFiles(
            o.TcbInfo is { } t ? (ReferenceValueLoader.Read(t, "--tcb-info"), t) : null,
            o.QeIdentity is { } q ? (ReferenceValueLoader.Read(q, "--qe-identity"), q) : null,
            o.TcbSigningChain is { } c ? (ReferenceValueLoader.Read(c, "--tcb-signing-chain"), c) : null,
            []) with { Crls = crls };
    }

    public static IReadOnlySet<string>? TcbStatuses(VerifyEvidenceOptions o)
    {
        var statuses = o.TcbStatuses.ToHashSet(StringComparer.Ordinal);
        if (statuses.FirstOrDefault(s => !TcbStatus.All.Contains(s)) is { } bad)
        {
            throw new CliInputException($"--tcb-status: '{bad}' is not one of {string.Join(", ", TcbStatus.All)}");
        }

        return statuses.Count > 0 ? statuses : null;
    }

    private static List<RevocationList> Crls(VerifyEvidenceOptions o) =>
        [.. o.Crls.Select(path => RevocationList.Parse(ReferenceValueLoader.Read(path, "--crl"), path))];
}
