using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using CocoLaunch.Attestation.Certificates;

namespace CocoLaunch.Attestation.Tests;

/// <summary>Certificates come from the evidence (a quote's PCK chain): whatever their bytes, the chain check names a problem and never throws.</summary>
public sealed class CertificateChainTests
{
    private static readonly DateTimeOffset Now = new(2025, 6, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Verify_IssuerWithMalformedBasicConstraints_NamesTheCertificateInsteadOfThrowing()
    {
        // Found by fuzz/ (tdx-quote): a flipped byte in the PCK chain's CA certificate made BasicConstraints
        // undecodable, and the lazy decode threw CryptographicException out of verify-evidence (exit 3).
        using var rootKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var leafKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var rootName = new X500DistinguishedName("CN=Test Root");
        var caName = new X500DistinguishedName("CN=Test CA");

        var rootRequest = new CertificateRequest(rootName, rootKey, HashAlgorithmName.SHA256);
        rootRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        using var root = rootRequest.CreateSelfSigned(Now.AddDays(-1), Now.AddDays(1));

        var caRequest = new CertificateRequest(caName, caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509Extension("2.5.29.19", [0x30, 0x03, 0x01, 0x01], critical: true)); // BOOLEAN's length runs past the end
        using var ca = caRequest.Create(rootName, X509SignatureGenerator.CreateForECDsa(rootKey), Now.AddDays(-1), Now.AddDays(1), [1]);

        var leafRequest = new CertificateRequest(new X500DistinguishedName("CN=Test PCK"), leafKey, HashAlgorithmName.SHA256);
        using var leaf = leafRequest.Create(caName, X509SignatureGenerator.CreateForECDsa(caKey), Now.AddDays(-1), Now.AddDays(1), [2]);

        string? problem = CertificateChain.Verify([leaf, ca], root, Now);

        Assert.NotNull(problem);
        Assert.StartsWith("certificate 'Test CA' (serial 01) signs another certificate, but its basic constraints extension is malformed (", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Verify_IssuerWithoutCaFlag_SaysItIsNotACa()
    {
        using var rootKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var leafKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var rootName = new X500DistinguishedName("CN=Plain Root");
        using var root = new CertificateRequest(rootName, rootKey, HashAlgorithmName.SHA256).CreateSelfSigned(Now.AddDays(-1), Now.AddDays(1));
        using var leaf = new CertificateRequest(new X500DistinguishedName("CN=Leaf"), leafKey, HashAlgorithmName.SHA256)
            .Create(rootName, X509SignatureGenerator.CreateForECDsa(rootKey), Now.AddDays(-1), Now.AddDays(1), [3]);

        Assert.Equal($"{CertificateChain.Describe(root)} signs another certificate but is not a CA", CertificateChain.Verify([leaf], root, Now));
    }
}
