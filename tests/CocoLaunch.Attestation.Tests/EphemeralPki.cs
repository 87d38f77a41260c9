using System.Numerics;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace CocoLaunch.Attestation.Tests;

/// <summary>
/// Certificates and CRLs made in a test with keys it throws away: public CRLs revoke no certificate of the public
/// evidence, so revocation itself can only be shown on a chain whose CA keys the test holds.
/// </summary>
internal static class EphemeralPki
{
    private static readonly DateTimeOffset From = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero), To = new(2035, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public static X509Certificate2 Root(string name, AsymmetricAlgorithm key) =>
        Request(name, key).CreateSelfSigned(From, To);

    public static X509Certificate2 Issue(string name, AsymmetricAlgorithm key, X509Certificate2 issuer, bool ca, long serial)
    {
        var request = Request(name, key, ca);
        byte[] serialBytes = new BigInteger(serial).ToByteArray(isUnsigned: true, isBigEndian: true);
        return issuer.GetRSAPrivateKey() is { } rsa
            ? request.Create(issuer.SubjectName, X509SignatureGenerator.CreateForRSA(rsa, RSASignaturePadding.Pss), From, To, serialBytes)
            : request.Create(issuer, From, To, serialBytes);
    }

    /// <summary>A CRL by <paramref name="issuer"/> (which holds its private key) revoking <paramref name="revoked"/>, current in 2025–2035.</summary>
    public static byte[] Crl(X509Certificate2 issuer, params X509Certificate2[] revoked)
    {
        var builder = new CertificateRevocationListBuilder();
        foreach (var cert in revoked)
        {
            builder.AddEntry(cert, From);
        }

        return builder.Build(issuer, BigInteger.One, To, HashAlgorithmName.SHA384, issuer.GetRSAPrivateKey() is null ? null : RSASignaturePadding.Pss, From);
    }

    private static CertificateRequest Request(string name, AsymmetricAlgorithm key, bool ca = true)
    {
        var request = key switch
        {
            RSA rsa => new CertificateRequest($"CN={name}", rsa, HashAlgorithmName.SHA384, RSASignaturePadding.Pss),
            ECDsa ec => new CertificateRequest($"CN={name}", ec, HashAlgorithmName.SHA256),
            _ => throw new ArgumentException("RSA or EC", nameof(key)),
        };
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(ca, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(ca ? X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign : X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        return request;
    }
}
