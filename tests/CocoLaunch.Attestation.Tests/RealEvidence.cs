using System.Security.Cryptography.X509Certificates;
using CocoLaunch.Attestation.Snp;
using CocoLaunch.Attestation.Tdx;
using CocoLaunch.Tests.Shared;

namespace CocoLaunch.Attestation.Tests;

/// <summary>The real evidence and collateral under tests/data/attestation (provenance in its README.md).</summary>
internal static class RealEvidence
{
    public static string PathOf(string relative) => Path.Combine(RepoPaths.Root, "tests", "data", "attestation", relative);

    public static byte[] Bytes(string relative) => File.ReadAllBytes(PathOf(relative));

    public static X509Certificate2 Certificate(string relative) => SnpEvidenceVerifier.LoadCertificate(Bytes(relative), relative);

    /// <summary>Intel SGX Root CA (serial 22650cd6…), as go-tdx-guest ships it.</summary>
    public static X509Certificate2 IntelRoot => Certificate("tdx-go-tdx-guest/intel_sgx_root_ca.pem");

    public static TdxQuote Quote(string relative) => TdxQuote.Parse(Bytes(relative), relative);
}
