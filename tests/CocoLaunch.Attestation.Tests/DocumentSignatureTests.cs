using CocoLaunch.Attestation.ReferenceValues;
using CocoLaunch.Tests.Shared;

namespace CocoLaunch.Attestation.Tests;

/// <summary>Malformed CMS signatures of reference values are input errors (<see cref="EvidenceFormatException"/>), however deep the damage.</summary>
public sealed class DocumentSignatureTests
{
    [Theory]
    [InlineData("cms-signer-info-byte.p7m")]
    [InlineData("cms-signer-name-bytes.p7m")]
    public void Verify_SignerInfoThatFailsToDecodeAfterDecode_IsNotACmsSignature(string file)
    {
        // Found by fuzz/ (reference-values): SignedCms.Decode accepted these, and reading SignerInfos threw
        // CryptographicException out of verify-evidence --reference-values (exit 3).
        byte[] p7m = File.ReadAllBytes(Path.Combine(RepoPaths.Root, "tests", "data", "fuzz", file));

        var e = Assert.Throws<EvidenceFormatException>(() => DocumentSignature.Verify(p7m, null, null, DateTimeOffset.UtcNow, "rv.p7m"));

        Assert.StartsWith("rv.p7m: not a CMS signature (", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Verify_SignerWithUnreadableValidity_IsAnUntrustedSigner()
    {
        // Found by fuzz/ (cms): the signer certificate's notAfter is "2051,202064342Z". The signature verifies, and
        // CertificateChain.Verify read NotAfter, which threw CryptographicException out of --trust (exit 3).
        string dir = Path.Combine(RepoPaths.Root, "tests", "data", "fuzz");
        byte[] p7s = File.ReadAllBytes(Path.Combine(dir, "cms-signer-not-after.p7s"));
        byte[] document = File.ReadAllBytes(Path.Combine(dir, "cms-signed-document.json"));
        var trust = Snp.SnpEvidenceVerifier.LoadCertificate(File.ReadAllBytes(Path.Combine(RepoPaths.Root, "samples", "ci", "test-keys", "ca.pem")), "ca.pem");

        var e = Assert.Throws<EvidenceFormatException>(() => DocumentSignature.Verify(p7s, document, trust, new DateTimeOffset(2030, 1, 1, 0, 0, 0, TimeSpan.Zero), "sig.p7s"));

        Assert.StartsWith("sig.p7s: the signer is not trusted: certificate #0 of the chain (leaf first) cannot be read: ", e.Message, StringComparison.Ordinal);
    }
}
