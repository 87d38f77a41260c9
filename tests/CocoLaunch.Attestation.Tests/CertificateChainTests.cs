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
        Assert.StartsWith("certificate #1 of the chain (leaf first) cannot be read: ", problem, StringComparison.Ordinal);
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

/// <summary>RSA-PSS parameters from the evidence with a salt length that no 32-bit integer holds.</summary>
public sealed class CertificateChainPssTests
{
    private static readonly DateTimeOffset Now = new(2025, 6, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Verify_PssSaltLengthPast32Bits_IsUnsupportedParametersInsteadOfOverflow()
    {
        // Found while fixing the basic-constraints crash: PssHash cast the DER INTEGER to int, and a salt of
        // 2^40 threw OverflowException out of the chain check (verify-evidence exit 3 on a crafted --vcek or --ask).
        using var rootKey = RSA.Create(2048);
        using var leafKey = ECDsa.Create(ECCurve.NamedCurves.nistP384);
        var rootName = new X500DistinguishedName("CN=PSS Root");
        var rootRequest = new CertificateRequest(rootName, rootKey, HashAlgorithmName.SHA384, RSASignaturePadding.Pss);
        rootRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        using var root = rootRequest.CreateSelfSigned(Now.AddDays(-1), Now.AddDays(1));
        using var leaf = new CertificateRequest(new X500DistinguishedName("CN=Leaf"), leafKey, HashAlgorithmName.SHA384)
            .Create(rootName, new HugeSaltPss(rootKey), Now.AddDays(-1), Now.AddDays(1), [4]);

        Assert.Equal("certificate 'Leaf' (serial 04): RSA-PSS parameters other than SHA-256/384 with MGF1 of the same hash and salt of its length",
            CertificateChain.Verify([leaf], root, Now));
    }

    /// <summary>Signs with RSA-PSS/SHA-384 but declares a salt length of 2^40 in the AlgorithmIdentifier.</summary>
    private sealed class HugeSaltPss(RSA key) : X509SignatureGenerator
    {
        public override byte[] GetSignatureAlgorithmIdentifier(HashAlgorithmName hashAlgorithm)
        {
            var w = new System.Formats.Asn1.AsnWriter(System.Formats.Asn1.AsnEncodingRules.DER);
            using (w.PushSequence())
            {
                w.WriteObjectIdentifier("1.2.840.113549.1.1.10");
                using (w.PushSequence())
                {
                    using (w.PushSequence(new System.Formats.Asn1.Asn1Tag(System.Formats.Asn1.TagClass.ContextSpecific, 0)))
                    using (w.PushSequence())
                    {
                        w.WriteObjectIdentifier("2.16.840.1.101.3.4.2.2");
                    }

                    using (w.PushSequence(new System.Formats.Asn1.Asn1Tag(System.Formats.Asn1.TagClass.ContextSpecific, 1)))
                    using (w.PushSequence())
                    {
                        w.WriteObjectIdentifier("1.2.840.113549.1.1.8");
                        using (w.PushSequence())
                        {
                            w.WriteObjectIdentifier("2.16.840.1.101.3.4.2.2");
                        }
                    }

                    using (w.PushSequence(new System.Formats.Asn1.Asn1Tag(System.Formats.Asn1.TagClass.ContextSpecific, 2)))
                    {
                        w.WriteInteger(1L << 40);
                    }
                }
            }

            return w.Encode();
        }

        public override byte[] SignData(byte[] data, HashAlgorithmName hashAlgorithm) => key.SignData(data, HashAlgorithmName.SHA384, RSASignaturePadding.Pss);

        protected override PublicKey BuildPublicKey() => PublicKey.CreateFromSubjectPublicKeyInfo(key.ExportSubjectPublicKeyInfo(), out _);
    }
}
