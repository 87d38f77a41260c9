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
}
