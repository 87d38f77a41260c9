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

    /// <summary>A certificate and its private key from PEM files, checked to belong together.</summary>
    public static X509Certificate2 LoadSigner(string certPath, string keyPath)
    {
        try
        {
            using var cert = X509Certificate2.CreateFromPem(
                Abi.IO.InputFile.ReadAllText(certPath, Abi.IO.InputFile.TextLimit, "--sign-cert"),
                Abi.IO.InputFile.ReadAllText(keyPath, Abi.IO.InputFile.TextLimit, "--sign-key"));
            // Re-imported so that the key is usable by CMS on every platform.
            return X509CertificateLoader.LoadPkcs12(cert.Export(X509ContentType.Pkcs12), null);
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            throw new EvidenceFormatException($"--sign-cert {certPath} / --sign-key {keyPath}: {e.Message.TrimEnd('.')} (a PEM certificate and its PEM private key)");
        }
    }
}
