using CocoLaunch.Attestation.Snp;
using CocoLaunch.Attestation.Tdx;
using CocoLaunch.Tests.Shared;

namespace CocoLaunch.Attestation.Tests;

/// <summary>
/// TDX quote verification on real v4 quotes with Intel's SGX root (tests/data/attestation/README.md), and on quotes
/// the emulated quoting enclave makes from a TDREPORT, against the test root.
/// </summary>
public sealed class TdxQuoteTests
{
    private static readonly DateTimeOffset PckValid = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static string Data(string path) => Path.Combine(RepoPaths.Root, "tests", "data", "attestation", path);

    private static System.Security.Cryptography.X509Certificates.X509Certificate2 IntelRoot =>
        SnpEvidenceVerifier.LoadCertificate(File.ReadAllBytes(Data("tdx-go-tdx-guest/intel_sgx_root_ca.pem")), "root");

    [Theory]
    [InlineData("tdx-go-tdx-guest/quote.bin", "6363b8043668a3ad953278e10389574d326c6749fb78aa810ecd9336923db86f22fc00b8dcd404bc10d5e119d7215cbb", 0x4000_0000UL)]
    [InlineData("tdx-trustee/quote.bin", "705ee9381b8633a9fbe532b52345e8433343d2868959f57889d84ca377c395b689cac1599ccea1b7d420483a9ce5f031", 0x1000_0001UL)]
    public void RealQuote_ChainsToIntelsRoot_EverySignatureVerifies_ADebugTdIsNamed(string file, string mrtd, ulong attributes)
    {
        var quote = TdxQuote.Parse(File.ReadAllBytes(Data(file)), file);
        var result = TdxQuoteVerifier.Verify(quote, IntelRoot, new EvidencePolicy(Measurements: new HashSet<string> { mrtd }, At: PckValid), file);
        Assert.Equal(attributes, quote.TdAttributes);
        Assert.All(result.Findings.Where(f => f.Check != "policy.debug"), f => Assert.True(f.Passed, $"{f.Check}: {f.Detail}"));
        Assert.Equal((attributes & 1) == 0, result.Passed); // trustee's sample quote is from a debug TD
        Assert.Equal(4, quote.Version);
    }

    [Fact]
    public void RealQuote_AgainstTheTestRoot_ChainFails()
    {
        var quote = TdxQuote.Parse(File.ReadAllBytes(Data("tdx-trustee/quote.bin")), "q");
        var result = TdxQuoteVerifier.Verify(quote, TestChain.TdxRoot, new EvidencePolicy(At: PckValid), "q");
        Assert.False(result.Findings.Single(f => f.Check == "chain").Passed);
    }

    [Theory]
    [InlineData(0x0B8, "signature")] // MRTD
    [InlineData(0x238, "signature")] // REPORTDATA
    [InlineData(0x27C, "signature")] // the signature itself
    public void OneFlippedByte_IsCaught(int offset, string check)
    {
        var bytes = File.ReadAllBytes(Data("tdx-trustee/quote.bin"));
        bytes[offset] ^= 0x01;
        var result = TdxQuoteVerifier.Verify(TdxQuote.Parse(bytes, "q"), IntelRoot, new EvidencePolicy(At: PckValid), "q");
        Assert.False(result.Findings.Single(f => f.Check == check).Passed);
    }

    [Fact]
    public void TrailingBytes_AreAFormatError()
    {
        var bytes = File.ReadAllBytes(Data("tdx-trustee/quote.bin"));
        var e = Assert.Throws<EvidenceFormatException>(() => TdxQuote.Parse([.. bytes, 0x0A], "q"));
        Assert.Equal("q: the signature data (length 4300 at 0x278) ends at 0x1348, but byte 0x1348 after it is not zero padding", e.Message);
    }

    [Fact]
    public void EmulatedQuote_FromATdReport_VerifiesAgainstTheTestRoot_CarriesItsMrtd()
    {
        var td = new Firmware.Tdx.TdParams(0x1000_0000, 0x602E7, new byte[48], new byte[48], new byte[48]);
        byte[] mrtd = [.. Enumerable.Range(0, 48).Select(i => (byte)(0xA0 + i))];
        byte[] reportData = [.. Enumerable.Range(0, 64).Select(i => (byte)i)];
        var report = Firmware.Tdx.TdReport.Build(td, mrtd, [new byte[48], new byte[48], new byte[48], new byte[48]], reportData);
        var quote = TdxQuote.Parse(EmulatedQuotingEnclave.Quote(report), "emulated");
        var result = TdxQuoteVerifier.Verify(quote, TestChain.TdxRoot, new EvidencePolicy(Measurements: new HashSet<string> { Convert.ToHexStringLower(mrtd) }, ReportData: reportData), "emulated");
        Assert.True(result.Passed, result.FirstFailure?.ToString());
        Assert.Equal(0x1000_0000UL, quote.TdAttributes);
        Assert.False(TdxQuoteVerifier.Verify(quote, IntelRoot, new EvidencePolicy(), "emulated").Passed);
    }
}
