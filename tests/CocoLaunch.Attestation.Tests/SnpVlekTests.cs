using CocoLaunch.Attestation.Snp;

namespace CocoLaunch.Attestation.Tests;

/// <summary>
/// A real VLEK-signed Milan report (trustee's test data; tests/data/attestation/README.md): KEY_INFO signing key 1,
/// verified with the VLEK chained to AMD's ASVK (SEV-VLEK-Milan) and ARK. trustee's deps/verifier/src/snp/mod.rs
/// asserts the same: check_vlek_signature_verification (VLEK ← ASVK ← ARK), check_vlek_report_signature (signature and
/// TCB), and the failures after byte 42 or byte 384 is changed.
/// </summary>
public sealed class SnpVlekTests
{
    private static readonly DateTimeOffset VlekValid = new(2025, 6, 1, 0, 0, 0, TimeSpan.Zero); // the VLEK is valid 2024-12-10 to 2025-12-10

    private static SnpReport Report(byte[]? bytes = null) => SnpReport.Parse(bytes ?? RealEvidence.Bytes("snp-trustee/vlek-report.bin"), "vlek-report.bin");

    private static SnpCertificates VlekChain => new(RealEvidence.Certificate("snp-trustee/vlek.der"), RealEvidence.Certificate("snp-trustee/asvk.pem"), RealEvidence.Certificate("snp-go-sev-guest/ark.pem"));

    [Fact]
    public void RealVlekReport_ChainsVlekAsvkArk_EveryCheckPasses()
    {
        var policy = new EvidencePolicy(
            Measurements: new HashSet<string> { "8922ebbdd00ec2c541f36a6e7a82a8773a7accb451ed67bc94e740dbe92c93c4e8c9af857f5ceeb5a493df2a570d7bf0" },
            AllowedVmpls: new HashSet<uint> { 1 }, At: VlekValid);
        var result = SnpEvidenceVerifier.Verify(Report(), VlekChain, policy);

        Assert.True(result.Passed, result.FirstFailure?.ToString());
        Assert.Equal(
            [
                ("chain", "VLEK ← certificate 'SEV-VLEK-Milan' (serial 010101) ← certificate 'ARK-Milan' (serial 010000)"),
                ("vlek-key", "EC P-384"),
                ("signature-algorithm", "SIGNATURE_ALGO 1 (1 = ECDSA P-384 with SHA-384)"),
                ("signing-key", "signed by a VLEK (KEY_INFO signing key 1)"),
                ("signature", "ECDSA P-384 over bytes 0x000–0x29F verifies with the VLEK"),
                ("vlek-tcb.bl", "VLEK bl SPL 4, REPORTED_TCB 4"),
                ("vlek-tcb.tee", "VLEK tee SPL 0, REPORTED_TCB 0"),
                ("vlek-tcb.snp", "VLEK snp SPL 24, REPORTED_TCB 24"),
                ("vlek-tcb.ucode", "VLEK ucode SPL 217, REPORTED_TCB 217"),
                ("chip-id", "a VLEK is issued to a cloud provider, not to a chip: CHIP_ID not compared"),
            ],
            result.Findings.Take(10).Select(f => (f.Check, f.Detail)));
    }

    [Theory]
    [InlineData(42, "signature")] // trustee check_vlek_report_signature_failure
    [InlineData(384, "vlek-tcb.bl")] // trustee check_vlek_report_tcb_failure: REPORTED_TCB's boot loader SPL
    public void AChangedByte_IsCaught(int offset, string check)
    {
        var bytes = RealEvidence.Bytes("snp-trustee/vlek-report.bin");
        bytes[offset]++;
        var result = SnpEvidenceVerifier.Verify(Report(bytes), VlekChain, new EvidencePolicy(At: VlekValid));
        Assert.False(result.Findings.Single(f => f.Check == check).Passed);
    }

    [Fact]
    public void TheAskInsteadOfTheAsvk_FailsTheChain()
    {
        var chain = VlekChain with { Intermediate = RealEvidence.Certificate("snp-go-sev-guest/ask.pem") };
        var result = SnpEvidenceVerifier.Verify(Report(), chain, new EvidencePolicy(At: VlekValid));
        Assert.Equal("certificate 'SEV-VLEK' (serial 00) was issued by 'CN=SEV-VLEK-Milan, O=Advanced Micro Devices, S=CA, L=Santa Clara, C=US, OU=Engineering', not by 'CN=SEV-Milan, O=Advanced Micro Devices, S=CA, L=Santa Clara, C=US, OU=Engineering'",
            result.Findings.Single(f => f.Check == "chain").Detail);
    }

    [Fact]
    public void AVcekForAVlekSignedReport_IsTheWrongSigningKey()
    {
        var chain = VlekChain with { Signer = RealEvidence.Certificate("snp-go-sev-guest/vcek.der"), Intermediate = RealEvidence.Certificate("snp-go-sev-guest/ask.pem") };
        var result = SnpEvidenceVerifier.Verify(Report(), chain, new EvidencePolicy(At: VlekValid));
        Assert.Equal("KEY_INFO says signing key 1 (0 VCEK, 1 VLEK, 7 none), but the certificate given is a VCEK", result.Findings.Single(f => f.Check == "signing-key").Detail);
        Assert.False(result.Findings.Single(f => f.Check == "signature").Passed);
    }

    [Fact]
    public void TheVlekAfterItsValidity_FailsTheChain()
    {
        var result = SnpEvidenceVerifier.Verify(Report(), VlekChain, new EvidencePolicy(At: new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero)));
        Assert.Equal("certificate 'SEV-VLEK' (serial 00) is not valid at 2026-01-01 00:00:00Z (valid 2024-12-10 to 2025-12-10)", result.Findings.Single(f => f.Check == "chain").Detail);
    }
}
