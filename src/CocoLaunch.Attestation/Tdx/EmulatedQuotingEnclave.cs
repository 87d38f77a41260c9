using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace CocoLaunch.Attestation.Tdx;

/// <summary>
/// The emulated quoting enclave: turns a TDREPORT into a v4 quote signed by a test attestation key, with a QE report
/// signed by the test PCK key and the test PCK chain (TestChains/README.md). The evidence has the real format and
/// verifies only against the test root.
/// </summary>
public static class EmulatedQuotingEnclave
{
    /// <summary>The emulated QE's identity in its SGX report body: stand-in MRENCLAVE and MRSIGNER, ISVPRODID 1.</summary>
    private static byte[] QeReportTemplate()
    {
        var r = new byte[TdxQuote.QeReportSize];
        SHA256.HashData(Encoding.ASCII.GetBytes("CocoLaunch emulated TDX quoting enclave")).CopyTo(r, 0x40);
        SHA256.HashData(Encoding.ASCII.GetBytes("CocoLaunch test signer")).CopyTo(r, 0x80);
        BinaryPrimitives.WriteUInt16LittleEndian(r.AsSpan(0x100), 1);
        return r;
    }

    public static string PckChainPem => TestChain.Pem("tdx-test-pck.pem") + TestChain.Pem("tdx-test-platform-ca.pem") + TestChain.Pem("tdx-test-root.pem");

    public static byte[] Quote(ReadOnlySpan<byte> tdReport)
    {
        using var attestation = TestChain.CreateAttestationKey();
        using var pck = TestChain.CreatePckKey();
        return TdxQuote.Build(tdReport, attestation, pck, PckChainPem, QeReportTemplate());
    }
}
