using CocoLaunch.Attestation.Tdx;

namespace CocoLaunch.Attestation.Tests;

/// <summary>
/// Every real TDX quote found in public repositories (tests/data/attestation/README.md): twelve quotes from eleven
/// platforms, three of them v5 with a TD quote body 1.5, verify against Intel's SGX Root CA.
/// </summary>
public sealed class RealTdxQuotesTests
{
    /// <summary>Every PCK certificate of these quotes is valid on this day (the latest was issued 2026-01-27).</summary>
    private static readonly DateTimeOffset AllPcksValid = new(2026, 6, 1, 0, 0, 0, TimeSpan.Zero);

    [Theory]
    [InlineData("tdx-trustee/quote.bin", 4, 0)] // trustee's test_quote_version: tdx_quote_4.dat is v4
    [InlineData("tdx-trustee/quote-v5.bin", 5, 0)] // … and tdx_quote_5.dat v5
    [InlineData("tdx-trustee/quote-6.bin", 4, 70)]
    [InlineData("tdx-trustee/az-td-quote.bin", 4, 70)]
    [InlineData("tdx-go-tdx-guest/quote.bin", 4, 0)]
    [InlineData("tdx-go-tdx-guest/quote-v5.bin", 5, 0)] // go-tdx-guest's RawQuoteV5
    [InlineData("tdx-go-tdx-guest/cos-113-quote.bin", 4, 3065)] // the 8000-byte quote buffer of the TDX guest driver
    [InlineData("tdx-dcap-qvl/quote.bin", 4, 70)]
    [InlineData("tdx-dcap-qvl/quote-outdated.bin", 5, 0)]
    [InlineData("tdx-dcap-qvl/quote-tappd.bin", 4, 70)]
    [InlineData("tdx-dcap-qvl/quote-hex.bin", 4, 70)]
    [InlineData("tdx-dcap-qvl/near-quote.bin", 4, 70)]
    public void RealQuote_ChainsToIntelsRoot_EverySignatureVerifies(string file, int version, int padding)
    {
        var quote = RealEvidence.Quote(file);
        var result = TdxQuoteVerifier.Verify(quote, RealEvidence.IntelRoot, new EvidencePolicy(At: AllPcksValid, AllowDebug: true), file);

        Assert.All(result.Findings, f => Assert.True(f.Passed, $"{f.Check}: {f.Detail}"));
        Assert.Equal((version, padding, version == 5), (quote.Version, quote.Padding, quote.IsBody15));
        Assert.Equal("certificate 'Intel SGX PCK Certificate' ← certificate 'Intel SGX PCK Platform CA' ← certificate 'Intel SGX Root CA'",
            $"{Describe(quote.PckChain(file)[0])} ← {Describe(quote.PckChain(file)[1])} ← {Describe(RealEvidence.IntelRoot)}");
    }

    /// <summary>
    /// A body 1.5 appends TEE_TCB_SVN2 and MRSERVICETD after REPORTDATA; the values are those of an independent parse
    /// of the file at the offsets of tdx-mrtd.md §9 (Python, written for this check).
    /// </summary>
    [Theory]
    [InlineData("tdx-trustee/quote-v5.bin", "05010200000000000000000000000000", "05010200000000000000000000000000", "383c87d3bbb047b2")]
    [InlineData("tdx-go-tdx-guest/quote-v5.bin", "0b010400000000000000000000000000", "0d010400000000000000000000000000", "0000000000000000")]
    public void V5Quote_Body15_ReadsTeeTcbSvn2AndMrServiceTd(string file, string teeTcbSvn, string teeTcbSvn2, string mrServiceTdStart)
    {
        var quote = RealEvidence.Quote(file);
        Assert.Equal(
            (teeTcbSvn, teeTcbSvn2, mrServiceTdStart),
            (Convert.ToHexStringLower(quote.TeeTcbSvn), Convert.ToHexStringLower(quote.TeeTcbSvn2), Convert.ToHexStringLower(quote.BodyBytes.Span.Slice(TdxQuote.Body.MrServiceTd, 8))));
    }

    [Fact]
    public void PaddingThatIsNotZero_IsAFormatError_NamingTheByte()
    {
        var bytes = RealEvidence.Bytes("tdx-trustee/quote-6.bin");
        bytes[^1] = 0x01;
        var e = Assert.Throws<EvidenceFormatException>(() => TdxQuote.Parse(bytes, "q"));
        Assert.Equal("q: the signature data (length 4300 at 0x278) ends at 0x1348, but byte 0x138d after it is not zero padding", e.Message);
    }

    private static string Describe(System.Security.Cryptography.X509Certificates.X509Certificate2 c) => $"certificate '{c.GetNameInfo(System.Security.Cryptography.X509Certificates.X509NameType.SimpleName, false)}'";
}
