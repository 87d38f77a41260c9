using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using CocoLaunch.Attestation.Certificates;

namespace CocoLaunch.Attestation.Snp;

/// <summary>
/// Verifies an SNP attestation report as a relying party does (snp-launch-digest.md §12–§15): the VCEK chain up to the
/// given ARK, the report's signature, the VCEK's TCB and chip against the report, then the measurement and the
/// policy rules. It knows nothing of the emulator: real hardware reports verify the same way.
/// </summary>
public static class SnpEvidenceVerifier
{
    private const ulong PolicyDebug = 1UL << 19, PolicyMigrateMa = 1UL << 18;

    public static VerificationResult Verify(SnpReport report, X509Certificate2 vcek, X509Certificate2 ask, X509Certificate2 ark, EvidencePolicy policy)
    {
        var findings = new List<Finding>();
        var at = policy.At ?? DateTimeOffset.UtcNow;
        string? chainProblem = CertificateChain.Verify([vcek, ask], ark, at);
        findings.Add(new("chain", chainProblem is null, chainProblem ?? $"VCEK ← {CertificateChain.Describe(ask)} ← {CertificateChain.Describe(ark)}"));

        using var key = Crypto.Attempt<ECDsa>(vcek.GetECDsaPublicKey, out string? keyError);
        bool p384 = key is not null && key.KeySize == 384;
        findings.Add(new("vcek-key", p384, p384 ? "EC P-384" : keyError is not null ? $"the VCEK's public key cannot be read: {keyError}" : $"the VCEK's key is {vcek.PublicKey.Oid.FriendlyName ?? vcek.PublicKey.Oid.Value}, not EC P-384"));
        findings.Add(new("signature-algorithm", report.SignatureAlgorithm == 1, $"SIGNATURE_ALGO {report.SignatureAlgorithm} (1 = ECDSA P-384 with SHA-384)"));
        findings.Add(new("signing-key", report.SigningKey == 0, report.SigningKey == 0 ? "signed by a VCEK" : $"KEY_INFO says signing key {report.SigningKey} (0 VCEK, 1 VLEK, 7 none), not the VCEK"));
        string? signatureError = null;
        bool signed = p384 && Crypto.Attempt(() => report.SignatureVerifies(key!), out signatureError);
        findings.Add(new("signature", signed, signed ? "ECDSA P-384 over bytes 0x000–0x29F verifies with the VCEK"
            : signatureError is not null ? $"the report's signature (0x2A0) cannot be checked: {signatureError}" : "the report's signature does not verify with the VCEK"));

        foreach (string component in TcbVersion.Components)
        {
            int? spl = VcekCertificate.Spl(vcek, component);
            int reported = report.ReportedTcb[component];
            findings.Add(new($"vcek-tcb.{component}", spl == reported, spl is null
                ? $"the VCEK has no {component} SPL extension"
                : $"VCEK {component} SPL {spl}, REPORTED_TCB {reported}"));
        }

        if (report.ChipIdMasked)
        {
            findings.Add(new("chip-id", true, "CHIP_ID is masked (KEY_INFO.MASK_CHIP_ID): not compared"));
        }
        else
        {
            var hwid = VcekCertificate.HardwareId(vcek);
            bool same = hwid is not null && report.ChipId.SequenceEqual(hwid);
            findings.Add(new("chip-id", same, same ? "the VCEK's hwID is the report's CHIP_ID" : "the VCEK's hwID is not the report's CHIP_ID"));
        }

        AddPolicy(findings, report, policy);
        return new VerificationResult("snp-report", findings);
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
