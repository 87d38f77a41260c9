using System.Security.Cryptography;
using CocoLaunch.Attestation.Certificates;
using CocoLaunch.Attestation.Snp;
using CocoLaunch.Attestation.Tdx;
using CocoLaunch.Attestation.Tdx.Collateral;
using CocoLaunch.Firmware.Snp;

namespace CocoLaunch.Attestation.Tests;

/// <summary>
/// A CRL that lists a certificate of the chain fails the verification, for a TDX PCK certificate (the PCK CA's CRL)
/// and for an SNP ASK (the ARK's CRL); the chains are made here, since no public CRL lists public evidence.
/// </summary>
public sealed class RevocationTests
{
    private static readonly DateTimeOffset At = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void TdxQuote_WhosePckTheCrlLists_FailsTheCrlCheck_NamingThePck()
    {
        using var rootKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var pckKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var attestationKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var root = EphemeralPki.Root("Test Root CA", rootKey);
        using var ca = System.Security.Cryptography.X509Certificates.ECDsaCertificateExtensions.CopyWithPrivateKey(EphemeralPki.Issue("Test PCK Platform CA", caKey, root, ca: true, serial: 2), caKey);
        using var pck = EphemeralPki.Issue("Test PCK Certificate", pckKey, ca, ca: false, serial: 3);
        string pem = pck.ExportCertificatePem() + "\n" + ca.ExportCertificatePem() + "\n" + root.ExportCertificatePem() + "\n";
        var report = Firmware.Tdx.TdReport.Build(new Firmware.Tdx.TdParams(0x1000_0000, 0x602E7, new byte[48], new byte[48], new byte[48]), new byte[48], [new byte[48], new byte[48], new byte[48], new byte[48]], new byte[64]);
        var quote = TdxQuote.Parse(TdxQuote.Build(report, attestationKey, pckKey, pem, new byte[TdxQuote.QeReportSize]), "q");

        var revoking = IntelCollateral.FromPcsFiles(null, null, null, [(EphemeralPki.Crl(ca, pck), "pck.crl")]);
        var clean = IntelCollateral.FromPcsFiles(null, null, null, [(EphemeralPki.Crl(ca), "pck.crl")]);
        var revoked = TdxQuoteVerifier.Verify(quote, root, new EvidencePolicy(At: At), "q", revoking);
        var fine = TdxQuoteVerifier.Verify(quote, root, new EvidencePolicy(At: At), "q", clean);

        Assert.Equal(("crl.test-pck-platform-ca", $"pck.crl ('Test PCK Platform CA' CRL of 2025-01-01, 1 revoked) revokes certificate 'Test PCK Certificate' (serial 03)"),
            (revoked.FirstFailure?.Check, revoked.FirstFailure?.Detail));
        Assert.True(fine.Passed, fine.FirstFailure?.ToString());
    }

    [Fact]
    public void SnpReport_WhoseAskTheArksCrlLists_FailsTheCrlCheck_AndAForgedCrlFailsItsSignature()
    {
        using var arkKey = RSA.Create(2048);
        using var askKey = RSA.Create(2048);
        using var forgerKey = RSA.Create(2048);
        using var vcekKey = AttestationReport.CreateEmulatorVcek();
        using var ark = EphemeralPki.Root("ARK-Milan", arkKey);
        using var forger = EphemeralPki.Root("ARK-Milan", forgerKey);
        using var ask = System.Security.Cryptography.X509Certificates.RSACertificateExtensions.CopyWithPrivateKey(EphemeralPki.Issue("SEV-Milan", askKey, ark, ca: true, serial: 0x10001), askKey);
        using var vcek = EphemeralPki.Issue("SEV-VCEK", vcekKey, ask, ca: false, serial: 7);
        var fields = new AttestationReport.Fields(0x30000, new byte[48], new byte[32], new byte[48], new byte[48], new byte[32], null, false, 0);
        var report = SnpReport.Parse(AttestationReport.Build(fields, new byte[64], 0, vcekKey), "r");

        Finding Crl(byte[] crl) => SnpEvidenceVerifier.Verify(report, new SnpCertificates(vcek, ask, ark, [RevocationList.Parse(crl, "ark.crl")]), new EvidencePolicy(At: At))
            .Findings.Single(f => f.Check == "crl.ark-milan");

        Assert.Equal(new Finding("crl.ark-milan", false, "ark.crl ('ARK-Milan' CRL of 2025-01-01, 1 revoked) revokes certificate 'SEV-Milan' (serial 010001)"), Crl(EphemeralPki.Crl(ark, ask)));
        Assert.True(Crl(EphemeralPki.Crl(ark)).Passed);
        Assert.Equal("ark.crl ('ARK-Milan' CRL of 2025-01-01, 0 revoked): its signature by certificate 'ARK-Milan' (serial " + ark.SerialNumber + ") fails: the RSA-PSS signature does not verify",
            Crl(EphemeralPki.Crl(forger)).Detail);
    }
}
