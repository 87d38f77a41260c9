using System.Security.Cryptography;
using System.Security.Cryptography.Pkcs;
using System.Security.Cryptography.X509Certificates;
using CocoLaunch.Attestation.Certificates;

namespace CocoLaunch.Attestation.ReferenceValues;

/// <summary>
/// CMS (PKCS#7) signatures over a reference-value document: detached (the document stays as it is, the signature
/// sits beside it in a .p7s) or enveloping (a .p7m that carries the document). Verifying checks the signature and,
/// with a trust anchor, that the signer's certificate chains to it.
/// </summary>
public static class DocumentSignature
{
    /// <summary>Signs <paramref name="content"/> with the certificate's private key; the DER of the CMS SignedData.</summary>
    public static byte[] Sign(byte[] content, X509Certificate2 signer, bool detached)
    {
        var cms = new SignedCms(new ContentInfo(content), detached);
        var cmsSigner = new CmsSigner(SubjectIdentifierType.IssuerAndSerialNumber, signer)
        {
            IncludeOption = X509IncludeOption.EndCertOnly,
            DigestAlgorithm = new Oid("2.16.840.1.101.3.4.2.1"), // SHA-256
        };
        cmsSigner.SignedAttributes.Add(new Pkcs9SigningTime(DateTime.UtcNow));
        cms.ComputeSignature(cmsSigner);
        return cms.Encode();
    }

    /// <summary>
    /// The signed document and its signer. <paramref name="detachedContent"/> is the document for a detached
    /// signature, null for an enveloping one. Throws <see cref="EvidenceFormatException"/> (an input error) for a
    /// signature that is malformed, does not verify, or does not chain to <paramref name="trust"/>.
    /// </summary>
    public static (byte[] Content, X509Certificate2 Signer) Verify(byte[] signature, byte[]? detachedContent, X509Certificate2? trust, DateTimeOffset at, string name)
    {
        var cms = detachedContent is null ? new SignedCms() : new SignedCms(new ContentInfo(detachedContent), detached: true);
        X509Certificate2 signer;
        List<X509Certificate2> certificates;
        try
        {
            cms.Decode(signature);

            // SignedCms decodes the signer infos and certificates lazily: malformed DER inside them throws here, not in Decode.
            if (cms.SignerInfos.Count != 1 || cms.SignerInfos[0].Certificate is not { } only)
            {
                throw new EvidenceFormatException($"{name}: expected one signer with its certificate, found {cms.SignerInfos.Count}");
            }

            signer = only;
            certificates = [.. cms.Certificates.Cast<X509Certificate2>()];
        }
        catch (CryptographicException e)
        {
            throw new EvidenceFormatException($"{name}: not a CMS signature ({e.Message})");
        }

        try
        {
            cms.CheckSignature(verifySignatureOnly: true);
        }
        catch (CryptographicException e)
        {
            throw new EvidenceFormatException($"{name}: the signature does not verify ({e.Message.TrimEnd('.')}): the document or the signature was changed");
        }

        bool pinned = trust is not null && trust.RawDataMemory.Span.SequenceEqual(signer.RawDataMemory.Span)
            && at >= signer.NotBefore.ToUniversalTime() && at <= signer.NotAfter.ToUniversalTime();
        if (trust is not null && !pinned)
        {
            var intermediates = certificates.Where(c => !c.RawDataMemory.Span.SequenceEqual(signer.RawDataMemory.Span)).ToList();
            if (CertificateChain.Verify([signer, .. intermediates], trust, at) is { } problem)
            {
                throw new EvidenceFormatException($"{name}: the signer is not trusted: {problem}");
            }
        }

        return (cms.ContentInfo.Content, signer);
    }

    /// <summary>
    /// A certificate (PEM or DER) and its private key (PEM), checked to belong together. The key's algorithm is the
    /// certificate's: RSA or ECDSA, the two CMS signs with here.
    /// </summary>
    public static X509Certificate2 LoadSigner(string certPath, string keyPath)
    {
        byte[] certBytes = Abi.IO.InputFile.ReadAllBytes(certPath, Abi.IO.InputFile.TextLimit, "--sign-cert");
        string key = Abi.IO.InputFile.ReadAllText(keyPath, Abi.IO.InputFile.TextLimit, "--sign-key");
        try
        {
            using var cert = Snp.SnpEvidenceVerifier.LoadCertificate(certBytes, certPath);
            using var withKey = WithKey(cert, key);
            // Re-imported so that the key is usable by CMS on every platform.
            return X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException or EvidenceFormatException)
        {
            throw new EvidenceFormatException($"--sign-cert {certPath} / --sign-key {keyPath}: {e.Message.TrimEnd('.')} (a PEM or DER certificate and its PEM private key)");
        }
    }

    private static X509Certificate2 WithKey(X509Certificate2 cert, string pem)
    {
        if (cert.GetRSAPublicKey() is { } rsaPublic)
        {
            rsaPublic.Dispose();
            using var rsa = RSA.Create();
            rsa.ImportFromPem(pem);
            return cert.CopyWithPrivateKey(rsa);
        }

        using var ecdsa = ECDsa.Create();
        ecdsa.ImportFromPem(pem);
        return cert.CopyWithPrivateKey(ecdsa);
    }
}
