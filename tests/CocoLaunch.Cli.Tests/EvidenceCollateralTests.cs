using CocoLaunch.Tests.Shared;

namespace CocoLaunch.Cli.Tests;

/// <summary>
/// verify-evidence on real evidence as deployed verifiers check it (tests/data/attestation/README.md): every real
/// TDX quote against Intel's root, Intel's collateral offline (PCS files or dcap-qvl's one-file form) with CRLs, and a
/// VLEK-signed SNP report; malformed collateral and conflicting options are input errors (exit 2).
/// </summary>
public sealed class EvidenceCollateralTests
{
    private static readonly string Attestation = Path.Combine(RepoPaths.Root, "tests", "data", "attestation");

    private static string Data(string path) => Path.Combine(Attestation, path);

    private static string IntelRoot => Data("tdx-go-tdx-guest/intel_sgx_root_ca.pem");

    private static List<string> RealQuoteFiles =>
        [.. Directory.GetDirectories(Attestation, "tdx-*").SelectMany(d => Directory.GetFiles(d, "*.bin")).Select(f => Path.GetRelativePath(Attestation, f)).Order(StringComparer.Ordinal)];

    public static TheoryData<string> RealQuotes() => [.. RealQuoteFiles];

    [Fact]
    public void TheRealQuotes_AreTwelve_ThreeOfThemV5()
    {
        var quotes = RealQuoteFiles;
        Assert.Equal(12, quotes.Count);
        Assert.Equal(3, quotes.Count(q => File.ReadAllBytes(Data(q))[0] == 5));
    }

    [Theory]
    [MemberData(nameof(RealQuotes))]
    public void EveryRealQuote_VerifiesAgainstIntelsRoot(string quote)
    {
        // 2026-06-01: every PCK certificate of these quotes is valid; trustee's tdx_quote_4 is from a debug TD.
        var result = CliRunner.Run("verify-evidence", Data(quote), "--root", IntelRoot, "--at", "2026-06-01T00:00:00Z", "--no-measurement-check", "--allow-debug");

        Assert.True(result.Exit == 0, result.Stdout + result.Stderr);
        Assert.EndsWith($"verified, measurement NOT checked: {Data(quote)}\n", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void PcsCollateralAndCrls_GoTdxGuestSprQuote_Exit1_OnlyTheTcbStatusFails()
    {
        // go-tdx-guest verify_test.go: the collateral and both CRLs verify at 2023-07-01 01:00, the QE is UpToDate,
        // and this quote's TCB fails against this TCB info (TestVerifyUsingTcbInfoV4 zeroes the levels to pass).
        string g = Data("tdx-go-tdx-guest");
        var result = CliRunner.Run("verify-evidence", Path.Combine(g, "quote.bin"), "--root", IntelRoot, "--at", "2023-07-01T01:00:00Z", "--no-measurement-check",
            "--tcb-info", Path.Combine(g, "tcbInfo.json"), "--qe-identity", Path.Combine(g, "qeIdentity.json"), "--tcb-signing-chain", Path.Combine(g, "tcb-signing-chain.pem"),
            "--crl", Path.Combine(g, "root-ca.crl"), Path.Combine(g, "pck-platform-ca.crl"));

        Assert.Equal((1, string.Empty), (result.Exit, result.Stderr));
        Assert.Contains("ok   qe-tcb-status: UpToDate: QE ISV SVN 4: level of 2023-02-15\n", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("ok   crl.intel-sgx-pck-platform-ca: ", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("FAIL tcb-status: no TCB level of the 2 is at or below this platform's SGX components and PCE SVN", result.Stdout, StringComparison.Ordinal);
        Assert.EndsWith($"NOT verified: {Path.Combine(g, "quote.bin")}: tcb-status\n", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void OneFileCollateral_DcapQvlSample_Exit0_UpToDate()
    {
        // dcap-qvl tests/verify_quote.rs could_parse_tdx_quote: UpToDate.
        var result = CliRunner.Run("verify-evidence", Data("tdx-dcap-qvl/quote.bin"), "--root", IntelRoot, "--at", "2025-07-01T00:00:00Z", "--no-measurement-check",
            "--collateral", Data("tdx-dcap-qvl/collateral.json"), "--format", "json");

        Assert.True(result.Exit == 0, result.Stdout + result.Stderr);
        Assert.Contains("\"check\": \"tcb-status\",\n      \"passed\": true,\n      \"detail\": \"UpToDate: level of 2024-03-13 (UpToDate)", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void AnOutOfDatePlatform_FailsByDefault_AndPassesWhenTheStatusIsAccepted()
    {
        string[] args = ["verify-evidence", Data("tdx-trustee/quote-6.bin"), "--root", IntelRoot, "--at", "2025-11-01T00:00:00Z", "--no-measurement-check",
            "--tcb-info", Data("tdx-trustee/tcbInfo.json"), "--qe-identity", Data("tdx-trustee/enclaveIdentity.json"), "--tcb-signing-chain", Data("tdx-dcap-qvl/tcb-signing-chain.pem")];

        var strict = CliRunner.Run(args);
        var lenient = CliRunner.Run([.. args, "--tcb-status", "UpToDate,OutOfDate"]);

        Assert.Equal(1, strict.Exit);
        Assert.Contains("FAIL tcb-status: OutOfDate: level of 2018-01-04 (OutOfDate)", strict.Stdout, StringComparison.Ordinal);
        Assert.Contains("; accepted: UpToDate\n", strict.Stdout, StringComparison.Ordinal);
        Assert.True(lenient.Exit == 0, lenient.Stdout + lenient.Stderr);
    }

    [Fact]
    public void VlekSignedReport_WithItsCertificatesBesideIt_Exit0()
    {
        // trustee deps/verifier/src/snp/mod.rs check_vlek_signature_verification and check_vlek_report_signature.
        using var dir = new TempDir();
        string report = dir.Write("report.bin", File.ReadAllBytes(Data("snp-trustee/vlek-report.bin")));
        dir.Write("vlek.pem", File.ReadAllBytes(Data("snp-trustee/vlek.der")));
        dir.Write("asvk.pem", File.ReadAllBytes(Data("snp-trustee/asvk.pem")));

        var result = CliRunner.Run("verify-evidence", report, "--root", Data("snp-go-sev-guest/ark.pem"), "--at", "2025-06-01T00:00:00Z", "--vmpl", "1",
            "--measurement", "8922ebbdd00ec2c541f36a6e7a82a8773a7accb451ed67bc94e740dbe92c93c4e8c9af857f5ceeb5a493df2a570d7bf0");

        Assert.True(result.Exit == 0, result.Stdout + result.Stderr);
        Assert.Contains("ok   signing-key: signed by a VLEK (KEY_INFO signing key 1)\n", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void ACrlOfAnotherIssuer_Exit1_SaysItRevokesNothingHere()
    {
        var result = CliRunner.Run("verify-evidence", Data("snp-trustee/report.bin"), "--root", Data("snp-go-sev-guest/ark.pem"), "--vcek", Data("snp-trustee/vcek.der"),
            "--ask", Data("snp-go-sev-guest/ask.pem"), "--at", "2025-01-01T00:00:00Z", "--no-measurement-check", "--crl", Data("tdx-go-tdx-guest/root-ca.crl"));

        Assert.Equal(1, result.Exit);
        Assert.Contains($"FAIL crl.intel-sgx-root-ca: {Data("tdx-go-tdx-guest/root-ca.crl")} ('Intel SGX Root CA' CRL of 2023-04-03, 0 revoked) is issued by no certificate of this verification, so it revokes none of them\n", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void MalformedTcbInfo_Exit2_NamesTheFileAndTheField()
    {
        using var dir = new TempDir();
        string text = File.ReadAllText(Data("tdx-go-tdx-guest/tcbInfo.json")).Replace("\"pcesvn\":11", "\"pcesvn\":-1", StringComparison.Ordinal);
        string tcbInfo = dir.Write("tcbInfo.json", text);

        var result = CliRunner.Run("verify-evidence", Data("tdx-go-tdx-guest/quote.bin"), "--root", IntelRoot, "--no-measurement-check",
            "--tcb-info", tcbInfo, "--tcb-signing-chain", Data("tdx-go-tdx-guest/tcb-signing-chain.pem"));

        Assert.Equal((2, $"cocolaunch: {tcbInfo}: tcbInfo.tcbLevels[0].tcb.pcesvn is -1, not a whole number from 0 to 65535"), (result.Exit, result.ErrorLine));
    }

    [Theory]
    [InlineData("--tcb-info", "tdx-go-tdx-guest/tcbInfo.json", "--tcb-info and --qe-identity need --tcb-signing-chain (the TCB-Info-Issuer-Chain PCS sends with them) to check their signatures")]
    [InlineData("--tcb-status", "Fine", "--tcb-status: 'Fine' is not one of UpToDate, ")]
    [InlineData("--tcb-status", "OutOfDate", "--tcb-status needs --tcb-info or --collateral: without TCB info there is no TCB status")]
    [InlineData("--vlek", "snp-trustee/vlek.der", "--vcek, --ask, --vlek, --asvk, --min-tcb and --vmpl are for SNP reports; a TDX quote carries its PCK chain")]
    public void ConflictingOrIncompleteOptions_Exit2(string option, string value, string message)
    {
        string argument = value.Contains('/', StringComparison.Ordinal) ? Data(value) : value;
        var result = CliRunner.Run("verify-evidence", Data("tdx-go-tdx-guest/quote.bin"), "--root", IntelRoot, "--no-measurement-check", option, argument);

        Assert.Equal(2, result.Exit);
        Assert.StartsWith($"cocolaunch: {message}", result.ErrorLine, StringComparison.Ordinal);
    }
}
