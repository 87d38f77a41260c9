using CocoLaunch.Tests.Shared;

namespace CocoLaunch.Cli.Tests;

/// <summary>attest and verify-evidence: emulated evidence against the test roots, real evidence against AMD's, tampering and policy by name.</summary>
public sealed class EvidenceVerbTests
{
    private static readonly string Nonce = string.Concat(Enumerable.Repeat("5a", 64));

    private static string Spec(string name) => RepoPaths.LaunchSpec(name);

    private static string Data(string path) => Path.Combine(RepoPaths.Root, "tests", "data", "attestation", path);

    private static string Attest(TempDir dir, string spec)
    {
        var result = CliRunner.Run("attest", Spec(spec), "--report-data", Nonce, "--out", dir.Path);
        Assert.True(result.Exit == 0, result.Stderr);
        return dir.Path;
    }

    [Fact]
    public void SnpEvidence_VerifiesAgainstTheTestArk_AndTheMeasurement()
    {
        using var dir = new TempDir();
        string d = Attest(dir, "snp-sample.yaml");
        var result = CliRunner.Run("verify-evidence", Path.Combine(d, "report.bin"), "--root", Path.Combine(d, "ark.pem"), "--report-data", Nonce, "--vmpl", "0",
            "--measurement", "634107b7f141c774e263f169cd1ccc6db36aa05090c9ebe2ed50bbf87f55af20700c254762a21ae28dd2c2c4af9de09e", "--min-tcb", "bl=3,tee=0,snp=8,ucode=115");
        Assert.True(result.Exit == 0, result.Stdout + result.Stderr);
        Assert.EndsWith($"verified: {Path.Combine(d, "report.bin")}\n", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void TdxEvidence_VerifiesAgainstTheTestRoot_AndReferenceValues()
    {
        using var dir = new TempDir();
        string d = Attest(dir, "tdx-4k-sample.yaml");
        string refs = Path.Combine(d, "refs.json");
        Assert.Equal(0, CliRunner.Run("reference-values", Spec("tdx-4k-sample.yaml"), "--out", refs, "--no-log").Exit);
        var result = CliRunner.Run("verify-evidence", Path.Combine(d, "quote.bin"), "--root", Path.Combine(d, "root.pem"), "--reference-values", refs, "--report-data", Nonce);
        Assert.True(result.Exit == 0, result.Stdout + result.Stderr);
        Assert.Contains("ok   measurement: MRTD 445c6c61", result.Stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("report.bin", 0x90, "signature")]
    [InlineData("quote.bin", 0xB8, "signature")]
    public void OneChangedByteInTheEvidence_Exit1_NamesTheSignature(string file, int offset, string check)
    {
        using var dir = new TempDir();
        string d = Attest(dir, file == "report.bin" ? "snp-sample.yaml" : "tdx-4k-sample.yaml");
        string path = Path.Combine(d, file);
        var bytes = File.ReadAllBytes(path);
        bytes[offset] ^= 0x80;
        File.WriteAllBytes(path, bytes);
        var result = CliRunner.Run("verify-evidence", path, "--root", Path.Combine(d, file == "report.bin" ? "ark.pem" : "root.pem"));
        Assert.Equal(1, result.Exit);
        Assert.Contains($"FAIL {check}: ", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void DebugPolicy_IsAViolationByName_UnlessAllowed()
    {
        using var dir = new TempDir();
        string d = Attest(dir, "snp-sample-debug.yaml");
        var refused = CliRunner.Run("verify-evidence", Path.Combine(d, "report.bin"), "--root", Path.Combine(d, "ark.pem"), "--no-measurement-check");
        Assert.Equal(1, refused.Exit);
        Assert.Contains("FAIL policy.debug: POLICY 0xb0000 allows debugging (bit 19)\n", refused.Stdout, StringComparison.Ordinal);
        Assert.EndsWith(": policy.debug\n", refused.Stdout, StringComparison.Ordinal);
        Assert.Equal(0, CliRunner.Run("verify-evidence", Path.Combine(d, "report.bin"), "--root", Path.Combine(d, "ark.pem"), "--allow-debug", "--no-measurement-check").Exit);
    }

    [Fact]
    public void MinimumTcbAboveTheReported_IsAViolationByComponent()
    {
        using var dir = new TempDir();
        string d = Attest(dir, "snp-sample.yaml");
        var result = CliRunner.Run("verify-evidence", Path.Combine(d, "report.bin"), "--root", Path.Combine(d, "ark.pem"), "--min-tcb", "snp=9");
        Assert.Equal(1, result.Exit);
        Assert.Contains("FAIL policy.min-tcb.snp: REPORTED_TCB snp SPL 8, minimum 9\n", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void RealMilanReport_AgainstAmdsArk_VerifiesWithDebugAllowed_AndNotAgainstTheTestArk()
    {
        string report = Data("snp-go-sev-guest/report.bin");
        string[] common = ["--vcek", Data("snp-go-sev-guest/vcek.der"), "--ask", Data("snp-go-sev-guest/ask.pem"), "--at", "2025-06-01T00:00:00Z", "--allow-debug", "--no-measurement-check"];
        var real = CliRunner.Run(["verify-evidence", report, "--root", Data("snp-go-sev-guest/ark.pem"), .. common]);
        Assert.True(real.Exit == 0, real.Stdout);
        using var dir = new TempDir();
        string testArk = dir.Write("ark.pem", Attestation.TestChain.Pem("snp-test-ark.pem"));
        var wrong = CliRunner.Run(["verify-evidence", report, "--root", testArk, .. common]);
        Assert.Equal(1, wrong.Exit);
        Assert.Contains("FAIL chain: ", wrong.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void RealTdxQuote_AgainstIntelsRoot_Verifies()
    {
        var result = CliRunner.Run("verify-evidence", Data("tdx-go-tdx-guest/quote.bin"), "--root", Data("tdx-go-tdx-guest/intel_sgx_root_ca.pem"), "--at", "2025-06-01T00:00:00Z",
            "--measurement", "6363b8043668a3ad953278e10389574d326c6749fb78aa810ecd9336923db86f22fc00b8dcd404bc10d5e119d7215cbb");
        Assert.True(result.Exit == 0, result.Stdout);
    }

    [Fact]
    public void ExpiredCertificate_IsRejected()
    {
        var result = CliRunner.Run("verify-evidence", Data("snp-trustee/report.bin"), "--root", Data("snp-go-sev-guest/ark.pem"), "--vcek", Data("snp-trustee/vcek.der"),
            "--ask", Data("snp-go-sev-guest/ask.pem"), "--at", "2035-01-01T00:00:00Z");
        Assert.Equal(1, result.Exit);
        Assert.Contains("is not valid at 2035-01-01 00:00:00Z", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void TruncatedEvidence_Exit2_NamesTheFile()
    {
        using var dir = new TempDir();
        string path = Path.Combine(dir.Path, "short.bin");
        File.WriteAllBytes(path, [4, 0, 2, 0, 0x81, 0, 0, 0]);
        var result = CliRunner.Run("verify-evidence", path, "--root", Data("tdx-go-tdx-guest/intel_sgx_root_ca.pem"));
        Assert.Equal(2, result.Exit);
        Assert.Equal($"cocolaunch: {path}: 8 bytes end inside the header (needs 48)", result.ErrorLine);
    }

    [Fact]
    public void AttestOnAPlatformWithoutEvidence_Exit2()
    {
        using var dir = new TempDir();
        var result = CliRunner.Run("attest", Spec("sev.yaml"), "--out", dir.Path);
        Assert.Equal(2, result.Exit);
        Assert.EndsWith("attestation evidence exists for snp and tdx guests, not sev", result.ErrorLine, StringComparison.Ordinal);
    }
}
