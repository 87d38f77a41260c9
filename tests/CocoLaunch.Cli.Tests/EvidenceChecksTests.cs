using CocoLaunch.Tests.Shared;

namespace CocoLaunch.Cli.Tests;

/// <summary>
/// verify-evidence on damaged evidence and without a measurement: malformed keys and signatures are failed checks by
/// name (exit 1), unreadable evidence is named by its own header (exit 2), and "verified" needs a measurement check
/// or an explicit --no-measurement-check.
/// </summary>
public sealed class EvidenceChecksTests
{
    private static string Attest(TempDir dir, string spec)
    {
        var result = CliRunner.Run("attest", RepoPaths.LaunchSpec(spec), "--out", dir.Path);
        Assert.True(result.Exit == 0, result.Stderr);
        return dir.Path;
    }

    private static string Damage(string path, Action<byte[]> change)
    {
        var bytes = File.ReadAllBytes(path);
        change(bytes);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    [Fact]
    public void TruncatedSnpReport_Exit2_SaysSoInsteadOfCallingItAQuote()
    {
        using var dir = new TempDir();
        string d = Attest(dir, "snp-sample.yaml");
        string report = Path.Combine(d, "report.bin");
        File.WriteAllBytes(report, File.ReadAllBytes(report)[..0x400]);

        var result = CliRunner.Run("verify-evidence", report, "--root", Path.Combine(d, "ark.pem"), "--no-measurement-check");

        Assert.Equal((2, $"cocolaunch: {report}: a truncated SNP report of 1024 bytes, expected 0x4A0 (1184)"), (result.Exit, result.ErrorLine));
    }

    [Fact]
    public void EvidenceOfNeitherKind_Exit2_NamesBothHeaders()
    {
        using var dir = new TempDir();
        string junk = dir.Write("junk.bin", new byte[0x4A0]);

        var result = CliRunner.Run("verify-evidence", junk, "--root", junk);

        Assert.Equal(2, result.Exit);
        Assert.StartsWith($"cocolaunch: {junk}: neither an SNP report (u32 version 2 to 5 at 0x0) nor a TDX quote", result.ErrorLine, StringComparison.Ordinal);
    }

    [Fact]
    public void TdxAttestationKeyOffTheCurve_Exit1_NamesTheKey()
    {
        using var dir = new TempDir();
        string d = Attest(dir, "tdx-4k-sample.yaml");
        // v4 quote: header 48 + body 584 + length 4, then the 64-byte signature, then the 64-byte attestation key.
        string quote = Damage(Path.Combine(d, "quote.bin"), b => b[48 + 584 + 4 + 64 + 5] ^= 0x01);

        var result = CliRunner.Run("verify-evidence", quote, "--root", Path.Combine(d, "root.pem"), "--no-measurement-check");

        Assert.Equal((1, string.Empty), (result.Exit, result.Stderr));
        Assert.Contains("FAIL attestation-key: the quote's attestation key is not a P-256 public key: ", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("FAIL signature: not checked: the attestation key is unusable\n", result.Stdout, StringComparison.Ordinal);
        Assert.EndsWith($"NOT verified: {quote}: qe-report-data, attestation-key, signature\n", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void SnpSignatureOutOfRange_Exit1_NamesTheSignature()
    {
        using var dir = new TempDir();
        string d = Attest(dir, "snp-sample.yaml");
        string report = Damage(Path.Combine(d, "report.bin"), b => b.AsSpan(0x2A0, 48).Fill(0xFF)); // R above the group order

        var result = CliRunner.Run("verify-evidence", report, "--root", Path.Combine(d, "ark.pem"), "--no-measurement-check");

        Assert.Equal((1, string.Empty), (result.Exit, result.Stderr));
        Assert.Contains("FAIL signature: ", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void NoMeasurementGiven_Exit1_ListsTheChecksThatRan()
    {
        using var dir = new TempDir();
        string d = Attest(dir, "snp-sample.yaml");
        string report = Path.Combine(d, "report.bin");

        var result = CliRunner.Run("verify-evidence", report, "--root", Path.Combine(d, "ark.pem"));

        Assert.Equal(1, result.Exit);
        Assert.Contains("ok   chain: ", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("ok   signature: ", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("FAIL measurement: not checked: give --measurement or --reference-values, or --no-measurement-check to accept any launch digest\n", result.Stdout, StringComparison.Ordinal);
        Assert.EndsWith($"NOT verified: {report}: measurement\n", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void NoMeasurementCheckFlag_Exit0_SaysTheMeasurementWasNotChecked()
    {
        using var dir = new TempDir();
        string d = Attest(dir, "snp-sample.yaml");
        string report = Path.Combine(d, "report.bin");

        var result = CliRunner.Run("verify-evidence", report, "--root", Path.Combine(d, "ark.pem"), "--no-measurement-check");

        Assert.Equal(0, result.Exit);
        Assert.Contains("ok   measurement: NOT checked (--no-measurement-check): any launch digest is accepted\n", result.Stdout, StringComparison.Ordinal);
        Assert.EndsWith($"verified, measurement NOT checked: {report}\n", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void NoMeasurementCheckWithAMeasurement_Exit2()
    {
        using var dir = new TempDir();
        string d = Attest(dir, "snp-sample.yaml");

        var result = CliRunner.Run("verify-evidence", Path.Combine(d, "report.bin"), "--root", Path.Combine(d, "ark.pem"), "--no-measurement-check", "--measurement", new string('a', 96));

        Assert.Equal((2, "cocolaunch: --no-measurement-check contradicts --measurement and --reference-values; give one or the other"), (result.Exit, result.ErrorLine));
    }

    /// <summary>AMD's KDS serves the VCEK as DER: a vcek.der and ask.der beside the report are found as the .pem are.</summary>
    [Fact]
    public void VcekAndAskAsDerBesideTheReport_AreFound()
    {
        using var dir = new TempDir();
        Assert.Equal(0, CliRunner.Run("attest", RepoPaths.LaunchSpec("snp.yaml"), "--out", dir.Path).Exit);
        foreach (string name in new[] { "vcek", "ask" })
        {
            string pem = Path.Combine(dir.Path, name + ".pem");
            File.WriteAllBytes(Path.Combine(dir.Path, name + ".der"), System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPem(File.ReadAllText(pem)).RawData);
            File.Delete(pem);
        }

        var result = CliRunner.Run("verify-evidence", Path.Combine(dir.Path, "report.bin"), "--root", Path.Combine(dir.Path, "ark.pem"), "--no-measurement-check");
        Assert.True(result.Exit == 0, result.Stdout + result.Stderr);
        Assert.Contains("verified, measurement NOT checked", result.Stdout);
    }
}
