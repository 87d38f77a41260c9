using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using CocoLaunch.Attestation.Certificates;

namespace CocoLaunch.Attestation.Snp;

/// <summary>
/// Verifies an SNP attestation report as a relying party does (snp-launch-digest.md §12–§15): the chain of the key
/// that signed it, a VCEK (VCEK ← ASK ← ARK) or a VLEK (VLEK ← ASVK ← ARK), up to the given ARK, AMD's CRL when given,
/// the report's signature, the key's TCB (and a VCEK's chip) against the report, then the measurement and the
/// policy rules. It knows nothing of the emulator: real hardware reports verify the same way.
/// </summary>
public static class SnpEvidenceVerifier
{
    private const ulong PolicyDebug = 1UL << 19, PolicyMigrateMa = 1UL << 18;

    public static VerificationResult Verify(SnpReport report, X509Certificate2 vcek, X509Certificate2 ask, X509Certificate2 ark, EvidencePolicy policy) =>
        Verify(report, new SnpCertificates(vcek, ask, ark), policy);

    public static VerificationResult Verify(SnpReport report, SnpCertificates certs, EvidencePolicy policy)
    {
        var findings = new List<Finding>();
        var at = policy.At ?? DateTimeOffset.UtcNow;
        var kind = VcekCertificate.KindOf(certs.Signer);
        string key = kind == SigningKey.Vlek ? "VLEK" : "VCEK", prefix = key.ToLowerInvariant();
        string? chainProblem = CertificateChain.Verify([certs.Signer, certs.Intermediate], certs.Ark, at);
        findings.Add(new("chain", chainProblem is null, chainProblem ?? $"{key} ← {CertificateChain.Describe(certs.Intermediate)} ← {CertificateChain.Describe(certs.Ark)}"));

        using var ec = Crypto.Attempt<ECDsa>(certs.Signer.GetECDsaPublicKey, out string? keyError);
        bool p384 = ec is not null && ec.KeySize == 384;
        findings.Add(new($"{prefix}-key", p384, p384 ? "EC P-384" : keyError is not null ? $"the {key}'s public key cannot be read: {keyError}" : $"the {key}'s key is {certs.Signer.PublicKey.Oid.FriendlyName ?? certs.Signer.PublicKey.Oid.Value}, not EC P-384"));
        findings.Add(new("signature-algorithm", report.SignatureAlgorithm == 1, $"SIGNATURE_ALGO {report.SignatureAlgorithm} (1 = ECDSA P-384 with SHA-384)"));
        bool sameKey = report.SigningKey == (uint)kind;
        findings.Add(new("signing-key", sameKey, sameKey ? $"signed by a {key} (KEY_INFO signing key {report.SigningKey})"
            : $"KEY_INFO says signing key {report.SigningKey} (0 VCEK, 1 VLEK, 7 none), but the certificate given is a {key}"));
        string? signatureError = null;
        bool signed = p384 && Crypto.Attempt(() => report.SignatureVerifies(ec!), out signatureError);
        findings.Add(new("signature", signed, signed ? $"ECDSA P-384 over bytes 0x000–0x29F verifies with the {key}"
            : signatureError is not null ? $"the report's signature (0x2A0) cannot be checked: {signatureError}" : $"the report's signature does not verify with the {key}"));

        foreach (string component in TcbVersion.Components)
        {
            int? spl = VcekCertificate.Spl(certs.Signer, component);
            int reported = report.ReportedTcb[component];
            findings.Add(new($"{prefix}-tcb.{component}", spl == reported, spl is null
                ? $"the {key} has no {component} SPL extension"
                : $"{key} {component} SPL {spl}, REPORTED_TCB {reported}"));
        }

        findings.Add(ChipId(report, certs.Signer, kind));
        IReadOnlyList<X509Certificate2> relied = [certs.Signer, certs.Intermediate, certs.Ark];
        findings.AddRange((certs.Crls ?? []).Select(crl => RevocationCheck.Check(crl, relied, at)));
        AddPolicy(findings, report, policy);
        return new VerificationResult("snp-report", findings);
    }

    /// <summary>A VCEK names its chip (hwID); a VLEK is issued to a cloud provider for any of its chips and names none.</summary>
    private static Finding ChipId(SnpReport report, X509Certificate2 signer, SigningKey kind)
    {
        if (kind == SigningKey.Vlek)
        {
            return new("chip-id", true, "a VLEK is issued to a cloud provider, not to a chip: CHIP_ID not compared");
        }

        if (report.ChipIdMasked)
        {
            return new("chip-id", true, "CHIP_ID is masked (KEY_INFO.MASK_CHIP_ID): not compared");
        }

        var hwid = VcekCertificate.HardwareId(signer);
        bool same = hwid is not null && report.ChipId.SequenceEqual(hwid);
        return new("chip-id", same, same ? "the VCEK's hwID is the report's CHIP_ID" : "the VCEK's hwID is not the report's CHIP_ID");
    }

    private static void AddPolicy(List<Finding> findings, SnpReport report, EvidencePolicy policy)
    {
        string measurement = Convert.ToHexStringLower(report.Measurement);
        if (policy.Measurements is { } allowed)
        {
            bool ok = allowed.Contains(measurement);
            findings.Add(new("measurement", ok, ok ? $"MEASUREMENT {measurement} is a reference value" : $"MEASUREMENT {measurement} is not among the {allowed.Count} reference value(s)"));
        }

        bool debug = (report.Policy & PolicyDebug) != 0;
        findings.Add(new("policy.debug", !debug || policy.AllowDebug, debug
            ? $"POLICY 0x{report.Policy:x} allows debugging (bit 19){(policy.AllowDebug ? ", which is allowed here" : string.Empty)}"
            : $"POLICY 0x{report.Policy:x} does not allow debugging"));
        bool migrate = (report.Policy & PolicyMigrateMa) != 0;
        findings.Add(new("policy.migrate-ma", !migrate, migrate ? $"POLICY 0x{report.Policy:x} allows a migration agent (bit 18)" : "no migration agent"));

        if (policy.MinimumTcb is { } floors)
        {
            foreach (var (component, floor) in floors)
            {
                int spl = report.ReportedTcb[component];
                findings.Add(new($"policy.min-tcb.{component}", spl >= floor, $"REPORTED_TCB {component} SPL {spl}, minimum {floor}"));
            }
        }

        if (policy.AllowedVmpls is { } vmpls)
        {
            findings.Add(new("policy.vmpl", vmpls.Contains(report.Vmpl), $"VMPL {report.Vmpl}, allowed {string.Join(", ", vmpls.Order())}"));
        }

        if (policy.ReportData is { } data)
        {
            bool same = report.ReportData.SequenceEqual(data);
            findings.Add(new("policy.report-data", same, same ? "REPORT_DATA is as expected" : $"REPORT_DATA {Convert.ToHexStringLower(report.ReportData)} is not {Convert.ToHexStringLower(data)}"));
        }
    }

    /// <summary>Reads a PEM or DER certificate file's first certificate.</summary>
    public static X509Certificate2 LoadCertificate(byte[] bytes, string name)
    {
        try
        {
            return bytes.AsSpan().IndexOf("-----BEGIN"u8) >= 0
                ? X509Certificate2.CreateFromPem(System.Text.Encoding.ASCII.GetString(bytes))
                : X509CertificateLoader.LoadCertificate(bytes);
        }
        catch (CryptographicException e)
        {
            throw new EvidenceFormatException($"{name}: not a PEM or DER certificate ({e.Message})");
        }
    }
}

/// <summary>The certificates an SNP report is checked with: the key that signed it (VCEK or VLEK), its issuer (ASK or ASVK), the ARK, and AMD's CRLs.</summary>
public sealed record SnpCertificates(X509Certificate2 Signer, X509Certificate2 Intermediate, X509Certificate2 Ark, IReadOnlyList<RevocationList>? Crls = null);
