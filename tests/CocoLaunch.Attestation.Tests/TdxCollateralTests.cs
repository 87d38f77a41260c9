using System.Text;
using CocoLaunch.Attestation.Tdx;
using CocoLaunch.Attestation.Tdx.Collateral;

namespace CocoLaunch.Attestation.Tests;

/// <summary>
/// Real quotes against real Intel collateral, offline (tests/data/attestation/README.md). Expected outcomes are the
/// ones the collateral's publishers assert in their own tests, cited at each test.
/// </summary>
public sealed class TdxCollateralTests
{
    /// <summary>Inside every period of go-tdx-guest's 2023 collateral: the time its verify_test.go checks it at.</summary>
    private static readonly DateTimeOffset GoTdxGuestNow = new(2023, 7, 1, 1, 0, 0, TimeSpan.Zero);

    /// <summary>Inside every period of dcap-qvl's sample collateral (TCB info 2025-06-19 to 07-19, PCK CRL from 10:00:35).</summary>
    private static readonly DateTimeOffset DcapQvlNow = new(2025, 7, 1, 0, 0, 0, TimeSpan.Zero);

    internal static IntelCollateral GoTdxGuest(string tcbInfo = "tcbInfo.json", bool crls = true) => IntelCollateral.FromPcsFiles(
        (RealEvidence.Bytes($"tdx-go-tdx-guest/{tcbInfo}"), tcbInfo),
        (RealEvidence.Bytes("tdx-go-tdx-guest/qeIdentity.json"), "qeIdentity.json"),
        (RealEvidence.Bytes("tdx-go-tdx-guest/tcb-signing-chain.pem"), "tcb-signing-chain.pem"),
        crls ? [(RealEvidence.Bytes("tdx-go-tdx-guest/pck-platform-ca.crl"), "pck-platform-ca.crl"), (RealEvidence.Bytes("tdx-go-tdx-guest/root-ca.crl"), "root-ca.crl")] : []);

    internal static IntelCollateral DcapQvl(string file) => IntelCollateral.FromQuoteCollateralJson(RealEvidence.Bytes($"tdx-dcap-qvl/{file}"), file);

    private static VerificationResult Verify(string quote, IntelCollateral collateral, DateTimeOffset at) =>
        TdxQuoteVerifier.Verify(RealEvidence.Quote(quote), RealEvidence.IntelRoot, new EvidencePolicy(At: at), quote, collateral);

    private static Finding Find(VerificationResult r, string check) => r.Findings.Single(f => f.Check == check);

    [Fact]
    public void DcapQvlSample_WithItsCollateral_IsUpToDate_EveryCheckPasses()
    {
        // dcap-qvl tests/verify_quote.rs could_parse_tdx_quote: status "UpToDate", no advisory IDs.
        var result = Verify("tdx-dcap-qvl/quote.bin", DcapQvl("collateral.json"), DcapQvlNow);

        Assert.True(result.Passed, result.FirstFailure?.ToString());
        Assert.Equal("UpToDate: level of 2024-03-13 (UpToDate) for SGX components 03030202040100050000000000000000, PCE SVN 11, TEE_TCB_SVN 06010300000000000000000000000000; TDX module TDX_01 ISV SVN 6: level of 2024-03-13 (UpToDate); QE level of 2024-03-13 (UpToDate)",
            Find(result, "tcb-status").Detail);
        Assert.Equal(
            ["tcb-signing-chain", "qe-identity.signature", "qe-identity.period", "qe-identity.enclave", "qe-tcb-status", "tcb-info.signature", "tcb-info.period", "tcb-info.platform", "tcb-info.tdx-module", "tcb-status", "crl.intel-sgx-root-ca", "crl.intel-sgx-pck-platform-ca"],
            result.Findings.SkipWhile(f => f.Check != "tcb-signing-chain").Select(f => f.Check));
    }

    [Fact]
    public void GoTdxGuestV5Quote_WithTheV5TcbInfo_IsUpToDate()
    {
        // go-tdx-guest verify_test.go TestVerifyUsingTcbInfoV5: verifyTdQuoteBody passes for the v5 sample quote, i.e.
        // FMSPC 90c06f000000, MRSIGNERSEAM and SEAMATTRIBUTES match and the TCB status is UpToDate. The TCB info was
        // issued on 2026-02-01, after go-tdx-guest's TCB Signing certificate expired, so the renewed certificate (same key)
        // that dcap-qvl's collateral carries signs it; go-tdx-guest checks it at 2026-02-03 01:00.
        var collateral = IntelCollateral.FromPcsFiles(
            (RealEvidence.Bytes("tdx-go-tdx-guest/tcbInfo-v5.json"), "tcbInfo-v5.json"), null,
            (RealEvidence.Bytes("tdx-dcap-qvl/tcb-signing-chain.pem"), "tcb-signing-chain.pem"), []);
        var result = Verify("tdx-go-tdx-guest/quote-v5.bin", collateral, new DateTimeOffset(2026, 2, 3, 1, 0, 0, TimeSpan.Zero));

        Assert.True(result.Passed, result.FirstFailure?.ToString());
        Assert.Equal("TDX TCB info for the PCK certificate's FMSPC 90c06f000000, PCE-ID 0000 (evaluation data number 18)", Find(result, "tcb-info.platform").Detail);
        Assert.StartsWith("UpToDate: level of 2024-11-13 (UpToDate)", Find(result, "tcb-status").Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void GoTdxGuestSprQuote_With2023Collateral_SignaturesCrlsAndQePass_ButNoTcbLevelFits()
    {
        // go-tdx-guest: TestObtainAndVerifyCollateral (signatures, periods and both CRLs at 2023-07-01 01:00),
        // TestVerifyUsingQeIdentityV4 (the QE is UpToDate), and TestVerifyUsingTcbInfoV4, whose comment says this
        // quote's TCB "will result in TCB status failure" against this TCB info (it zeroes the levels to pass).
        var result = Verify("tdx-go-tdx-guest/quote.bin", GoTdxGuest(), GoTdxGuestNow);

        Assert.Equal(["tcb-status"], result.Findings.Where(f => !f.Passed).Select(f => f.Check));
        Assert.StartsWith("UpToDate: QE ISV SVN 4: level of 2023-02-15", Find(result, "qe-tcb-status").Detail, StringComparison.Ordinal);
        Assert.Equal("TDX TCB info for the PCK certificate's FMSPC 50806f000000, PCE-ID 0000 (evaluation data number 15)", Find(result, "tcb-info.platform").Detail);
        Assert.Equal("no TCB level of the 2 is at or below this platform's SGX components and PCE SVN (SGX components 03030202020100020000000000000000, PCE SVN 11, TEE_TCB_SVN 03000400000000000000000000000000): Intel does not support it",
            Find(result, "tcb-status").Detail);
    }

    [Fact]
    public void DcapQvlOutdatedV5Quote_NoTcbLevelFits()
    {
        // dcap-qvl tests/verify_tcb_override.rs outdated_fixture_with_override_matches_expected_status: this quote
        // verifies only after a permissive TCB level is inserted, so no level of its collateral fits it.
        var result = Verify("tdx-dcap-qvl/quote-outdated.bin", DcapQvl("collateral-outdated.json"), new DateTimeOffset(2026, 3, 1, 0, 0, 0, TimeSpan.Zero));

        Assert.Equal(["tcb-status"], result.Findings.Where(f => !f.Passed).Select(f => f.Check));
        Assert.Contains("no TCB level of the 3 is at or below this platform's", Find(result, "tcb-status").Detail, StringComparison.Ordinal);
    }

    /// <summary>Outcomes no publisher states: checked against an independent evaluation (Python, written for this check) of Intel's rules.</summary>
    [Theory]
    [InlineData("tdx-trustee/quote.bin", "UpToDate: level of 2023-02-15 (UpToDate)", true)]
    [InlineData("tdx-trustee/quote-6.bin", "OutOfDate: level of 2018-01-04 (OutOfDate) for SGX components 02020707040100020000000000000000, PCE SVN 11, TEE_TCB_SVN 05030200000000000000000000000000; TDX module TDX_03 ISV SVN 5: level of 2024-03-13 (UpToDate)", false)]
    public void MoreRealQuotes_TcbStatus(string quote, string status, bool passes)
    {
        var collateral = quote.EndsWith("quote-6.bin", StringComparison.Ordinal)
            ? IntelCollateral.FromPcsFiles((RealEvidence.Bytes("tdx-trustee/tcbInfo.json"), "tcbInfo.json"), (RealEvidence.Bytes("tdx-trustee/enclaveIdentity.json"), "enclaveIdentity.json"),
                (RealEvidence.Bytes("tdx-dcap-qvl/tcb-signing-chain.pem"), "tcb-signing-chain.pem"), [])
            : GoTdxGuest(crls: false);
        var at = quote.EndsWith("quote-6.bin", StringComparison.Ordinal) ? new DateTimeOffset(2025, 11, 1, 0, 0, 0, TimeSpan.Zero) : GoTdxGuestNow;
        var result = TdxQuoteVerifier.Verify(RealEvidence.Quote(quote), RealEvidence.IntelRoot, new EvidencePolicy(At: at, AllowDebug: true), quote, collateral);

        Assert.StartsWith(status, Find(result, "tcb-status").Detail, StringComparison.Ordinal);
        Assert.Equal(passes, result.Passed);
        Assert.All(result.Findings.Where(f => f.Check != "tcb-status"), f => Assert.True(f.Passed, $"{f.Check}: {f.Detail}"));
    }

    [Fact]
    public void AcceptedStatuses_ComeFromThePolicy()
    {
        var quote = RealEvidence.Quote("tdx-trustee/quote-6.bin");
        var collateral = IntelCollateral.FromPcsFiles((RealEvidence.Bytes("tdx-trustee/tcbInfo.json"), "tcbInfo.json"), null, (RealEvidence.Bytes("tdx-dcap-qvl/tcb-signing-chain.pem"), "c.pem"), []);
        var policy = new EvidencePolicy(At: new DateTimeOffset(2025, 11, 1, 0, 0, 0, TimeSpan.Zero), AllowedTcbStatuses: new HashSet<string> { TcbStatus.UpToDate, TcbStatus.OutOfDate });

        Assert.True(TdxQuoteVerifier.Verify(quote, RealEvidence.IntelRoot, policy, "q", collateral).Passed);
    }

    [Fact]
    public void ACollateralForAnotherPlatform_IsNamed_AndItsStatusNotEvaluated()
    {
        var result = Verify("tdx-dcap-qvl/quote.bin", GoTdxGuest(crls: false), GoTdxGuestNow.AddYears(2));

        Assert.Equal("the TCB info is for FMSPC 50806f000000, PCE-ID 0000; the PCK certificate has FMSPC b0c06f000000, PCE-ID 0000", Find(result, "tcb-info.platform").Detail);
        Assert.Equal("not evaluated: the TCB info does not describe this platform", Find(result, "tcb-status").Detail);
    }

    [Fact]
    public void AWhitespaceAddedInsideTheSignedTcbInfo_BreaksItsSignature()
    {
        // Intel signs the bytes as sent, so a verifier must not re-serialise the JSON before checking.
        string body = Encoding.UTF8.GetString(RealEvidence.Bytes("tdx-go-tdx-guest/tcbInfo.json")).Replace("\"pceId\":\"0000\"", "\"pceId\": \"0000\"", StringComparison.Ordinal);
        var collateral = IntelCollateral.FromPcsFiles((Encoding.UTF8.GetBytes(body), "edited.json"), null, (RealEvidence.Bytes("tdx-go-tdx-guest/tcb-signing-chain.pem"), "c.pem"), []);
        var result = Verify("tdx-trustee/quote.bin", collateral, GoTdxGuestNow);

        Assert.Equal("edited.json: the signature does not verify with certificate 'Intel SGX TCB Signing' (serial 7E3882D5FB55294A40498E458403E91491BDF455)", Find(result, "tcb-info.signature").Detail);
        Assert.True(Find(result, "tcb-info.platform").Passed);
    }

    [Theory]
    [InlineData(2023, 7, 19, "tcb-info.period", "issued 2023-06-18 08:42:58Z, next update 2023-07-18 08:42:58Z: expired at 2023-07-19 00:00:00Z")]
    [InlineData(2023, 7, 9, "crl.intel-sgx-pck-platform-ca", "pck-platform-ca.crl ('Intel SGX PCK Platform CA' CRL of 2023-06-08, 44 revoked) is not current at 2023-07-09 00:00:00Z (this update 2023-06-08 07:27:52Z, next update 2023-07-08 07:27:52Z)")]
    [InlineData(2025, 6, 1, "tcb-signing-chain", "certificate 'Intel SGX TCB Signing' (serial 7E3882D5FB55294A40498E458403E91491BDF455) is not valid at 2025-06-01 00:00:00Z (valid 2018-05-21 to 2025-05-21)")]
    public void StaleCollateral_FailsByName(int year, int month, int day, string check, string detail)
    {
        var result = Verify("tdx-trustee/quote.bin", GoTdxGuest(), new DateTimeOffset(year, month, day, 0, 0, 0, TimeSpan.Zero));
        Assert.Equal(detail, Find(result, check).Detail);
        Assert.False(Find(result, check).Passed);
    }

    [Fact]
    public void RealCrls_AreSignedByTheirIssuers_AndRevokeNoneOfTheChain()
    {
        var result = Verify("tdx-trustee/quote.bin", GoTdxGuest(), GoTdxGuestNow);

        Assert.Equal("root-ca.crl ('Intel SGX Root CA' CRL of 2023-04-03, 0 revoked) is signed by its issuer and revokes none of certificate 'Intel SGX PCK Platform CA' (serial 00956F5DCDBD1BE1E94049C9D4F433CE01570BDE54), certificate 'Intel SGX TCB Signing' (serial 7E3882D5FB55294A40498E458403E91491BDF455)",
            Find(result, "crl.intel-sgx-root-ca").Detail);
        Assert.StartsWith("pck-platform-ca.crl ('Intel SGX PCK Platform CA' CRL of 2023-06-08, 44 revoked) is signed by its issuer and revokes none of certificate 'Intel SGX PCK Certificate'",
            Find(result, "crl.intel-sgx-pck-platform-ca").Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void ACrlWithAFlippedSignatureByte_Fails()
    {
        var crl = RealEvidence.Bytes("tdx-go-tdx-guest/root-ca.crl");
        crl[^5] ^= 0x01;
        var collateral = IntelCollateral.FromPcsFiles(null, null, null, [(crl, "root-ca.crl")]);
        var result = Verify("tdx-trustee/quote.bin", collateral, GoTdxGuestNow);

        Assert.StartsWith("root-ca.crl ('Intel SGX Root CA' CRL of 2023-04-03, 0 revoked): its signature by certificate 'Intel SGX Root CA'", Find(result, "crl.intel-sgx-root-ca").Detail, StringComparison.Ordinal);
        Assert.False(result.Passed);
    }

    [Fact]
    public void APckChainOfferedAsTheTcbSigningChain_IsRefused_ThoughItChainsToTheRoot()
    {
        // A platform's PCK key could otherwise sign a TCB info of its own making.
        var quote = RealEvidence.Quote("tdx-trustee/quote.bin");
        var collateral = GoTdxGuest(crls: false) with { SigningChain = quote.PckChain("q") };
        var result = TdxQuoteVerifier.Verify(quote, RealEvidence.IntelRoot, new EvidencePolicy(At: GoTdxGuestNow, AllowDebug: true), "q", collateral);

        Assert.Equal("certificate 'Intel SGX PCK Certificate' (serial 0099C1712024A45E82EF4F19BE96BF52EA98E95B19) is not the Intel SGX TCB Signing certificate", Find(result, "tcb-signing-chain").Detail);
        Assert.Equal("not checked: the TCB Signing chain failed (tcb-signing-chain)", Find(result, "tcb-info.signature").Detail);
    }

    [Fact]
    public void ACrlInPem_ReadsAsItsDer()
    {
        // PCS serves CRLs in PEM unless asked for DER; go-tdx-guest's copy is the DER.
        var der = RealEvidence.Bytes("tdx-go-tdx-guest/pck-platform-ca.crl");
        string pem = new(System.Security.Cryptography.PemEncoding.Write("X509 CRL", der));
        var fromPem = Certificates.RevocationList.Parse(Encoding.ASCII.GetBytes(pem), "pck.pem");

        Assert.Equal((44, "Intel SGX PCK Platform CA", new DateTimeOffset(2023, 7, 8, 7, 27, 52, TimeSpan.Zero)), (fromPem.Revoked.Count, fromPem.IssuerName, fromPem.NextUpdate!.Value));
        Assert.Equal(der, fromPem.Der);
    }
}
