using System.Security.Cryptography;
using CocoLaunch.Attestation.Snp;
using CocoLaunch.Firmware.Snp;
using CocoLaunch.Tests.Shared;

namespace CocoLaunch.Attestation.Tests;

/// <summary>
/// SNP report verification on real Milan reports with AMD's production ARK/ASK (tests/data/attestation/README.md),
/// and on reports the emulated firmware signs, against the test chain.
/// </summary>
public sealed class SnpEvidenceTests
{
    private static readonly DateTimeOffset RealVcekValid = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero); // the sample VCEK expires in 2029

    private static string Data(string path) => Path.Combine(RepoPaths.Root, "tests", "data", "attestation", path);

    private static (SnpReport, System.Security.Cryptography.X509Certificates.X509Certificate2 Vcek) Real(string dir) =>
        (SnpReport.Parse(File.ReadAllBytes(Data($"{dir}/report.bin")), "report.bin"), SnpEvidenceVerifier.LoadCertificate(File.ReadAllBytes(Data($"{dir}/vcek.der")), "vcek.der"));

    private static System.Security.Cryptography.X509Certificates.X509Certificate2 AmdAsk => SnpEvidenceVerifier.LoadCertificate(File.ReadAllBytes(Data("snp-go-sev-guest/ask.pem")), "ask.pem");

    private static System.Security.Cryptography.X509Certificates.X509Certificate2 AmdArk => SnpEvidenceVerifier.LoadCertificate(File.ReadAllBytes(Data("snp-go-sev-guest/ark.pem")), "ark.pem");

    [Fact]
    public void RealMilanReport_ChainsToAmdsArk_SignatureTcbAndChipMatch_DebugIsNamed()
    {
        var (report, vcek) = Real("snp-go-sev-guest");
        // MEASUREMENT as go-sev-guest's testdata states it.
        const string measurement = "b07af9620f3b839b47996422ddec6058338951d984e312115131ea82705eaf5b6bdf8a9ece31a5a608eb0cf2e4872b01";
        var result = SnpEvidenceVerifier.Verify(report, vcek, AmdAsk, AmdArk, new EvidencePolicy(Measurements: new HashSet<string> { measurement }, At: RealVcekValid));
        Assert.All(result.Findings.Where(f => f.Check != "policy.debug"), f => Assert.True(f.Passed, $"{f.Check}: {f.Detail}"));
        // This report's POLICY is 0xb0000: debugging allowed, which a default policy refuses.
        Assert.Equal(("policy.debug", "POLICY 0xb0000 allows debugging (bit 19)"), (result.FirstFailure!.Check, result.FirstFailure.Detail));
        Assert.Equal("bl 2, tee 0, snp 5, ucode 68", report.ReportedTcb.ToString());
    }

    [Fact]
    public void SecondRealReport_PassesEveryCheck()
    {
        var (report, vcek) = Real("snp-trustee");
        var result = SnpEvidenceVerifier.Verify(report, vcek, AmdAsk, AmdArk, new EvidencePolicy(
            Measurements: new HashSet<string> { "a1f3930413247bb38cfc171579ea3c12d5fe4901f0c792f63fd75d98f1ef827c23500644e0e692e6be917f9050d3d38c" },
            MinimumTcb: new Dictionary<string, int> { ["bl"] = 3, ["tee"] = 0, ["snp"] = 8, ["ucode"] = 115 }, AllowedVmpls: new HashSet<uint> { 0 }, At: RealVcekValid));
        Assert.True(result.Passed, result.FirstFailure?.ToString());
    }

    [Theory]
    [InlineData(0x090, "signature")] // MEASUREMENT
    [InlineData(0x050, "signature")] // REPORT_DATA
    [InlineData(0x2A0, "signature")] // SIGNATURE.R
    [InlineData(0x1A0, "chip-id")] // CHIP_ID: no longer the VCEK's hwID (and the signature breaks too)
    public void OneFlippedByte_IsCaught(int offset, string check)
    {
        var (report, vcek) = Real("snp-trustee");
        var bytes = report.Bytes.ToArray();
        bytes[offset] ^= 0x01;
        var result = SnpEvidenceVerifier.Verify(SnpReport.Parse(bytes, "tampered"), vcek, AmdAsk, AmdArk, new EvidencePolicy(At: RealVcekValid));
        Assert.False(result.Passed);
        Assert.Contains(result.Findings, f => f.Check == check && !f.Passed);
        Assert.False(result.Findings.Single(f => f.Check == "signature").Passed);
    }

    [Fact]
    public void WrongRoot_TheTestArk_IsRejected()
    {
        var (report, vcek) = Real("snp-trustee");
        var result = SnpEvidenceVerifier.Verify(report, vcek, AmdAsk, TestChain.SnpArk, new EvidencePolicy(At: RealVcekValid));
        Assert.StartsWith("certificate 'SEV-Milan'", result.Findings.Single(f => f.Check == "chain").Detail, StringComparison.Ordinal);
        Assert.False(result.Passed);
    }

    [Fact]
    public void ExpiredVcek_IsRejectedByDate()
    {
        var (report, vcek) = Real("snp-trustee");
        var result = SnpEvidenceVerifier.Verify(report, vcek, AmdAsk, AmdArk, new EvidencePolicy(At: new DateTimeOffset(2031, 1, 1, 0, 0, 0, TimeSpan.Zero)));
        var chain = result.Findings.Single(f => f.Check == "chain");
        Assert.False(chain.Passed);
        Assert.Contains("is not valid at 2031-01-01 00:00:00Z", chain.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void EmulatedReport_VerifiesAgainstTheTestChain_AndNotAgainstAmds()
    {
        using var vcekKey = AttestationReport.CreateEmulatorVcek();
        var fields = new AttestationReport.Fields(0x30000, new byte[48], new byte[32], new byte[48], new byte[48], new byte[32], null, false, 0x00A0_0F11);
        var report = SnpReport.Parse(AttestationReport.Build(fields, new byte[64], 0, vcekKey), "emulated");
        var result = SnpEvidenceVerifier.Verify(report, TestChain.SnpVcek, TestChain.SnpAsk, TestChain.SnpArk, new EvidencePolicy(AllowedVmpls: new HashSet<uint> { 0 }));
        Assert.True(result.Passed, result.FirstFailure?.ToString());
        Assert.False(SnpEvidenceVerifier.Verify(report, TestChain.SnpVcek, TestChain.SnpAsk, AmdArk, new EvidencePolicy()).Passed);
    }

    [Fact]
    public void AVcekWithAnRsaKey_IsAWrongKeyType()
    {
        var (report, _) = Real("snp-trustee");
        using var rsa = RSA.Create(2048);
        var request = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=SEV-VCEK", rsa, HashAlgorithmName.SHA384, RSASignaturePadding.Pss);
        using var fake = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        var result = SnpEvidenceVerifier.Verify(report, fake, AmdAsk, AmdArk, new EvidencePolicy());
        Assert.False(result.Findings.Single(f => f.Check == "vcek-key").Passed);
    }
}
