using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace CocoLaunch.Attestation.Certificates;

/// <summary>
/// Checks a certificate chain leaf-first up to a given root, by hand: each signature against its issuer's key
/// (RSA-PSS as AMD signs, PKCS#1 v1.5, or ECDSA as Intel signs), names that chain, validity at a given time, and
/// CA flags on issuers. No system store or network is consulted, so the answer depends on the inputs alone.
/// </summary>
public static class CertificateChain
{
    private const string RsaPss = "1.2.840.113549.1.1.10", Sha256Rsa = "1.2.840.113549.1.1.11", Sha384Rsa = "1.2.840.113549.1.1.12";
    private const string EcdsaSha256 = "1.2.840.10045.4.3.2", EcdsaSha384 = "1.2.840.10045.4.3.3";
    private const string Sha256Oid = "2.16.840.1.101.3.4.2.1", Sha384Oid = "2.16.840.1.101.3.4.2.2";

    /// <summary>
    /// Null when <paramref name="chain"/> (leaf first, root last or omitted) leads to <paramref name="root"/>; else
    /// the first problem, naming the certificate.
    /// </summary>
    public static string? Verify(IReadOnlyList<X509Certificate2> chain, X509Certificate2 root, DateTimeOffset at)
    {
        var path = chain.ToList();
        if (path.Count == 0 || !path[^1].RawDataMemory.Span.SequenceEqual(root.RawDataMemory.Span))
        {
            path.Add(root);
        }

        for (int i = 0; i < path.Count; i++)
        {
            string? problem;
            try
            {
                problem = Problem(path, i, at);
            }
            catch (CryptographicException e)
            {
                // .NET reads a certificate's fields (validity, names, extensions) only when asked, and the bytes come
                // from the evidence: a field that cannot be read is this certificate's problem, not an exception.
                problem = $"certificate {i + 1} of the chain (leaf first) has a field that cannot be read ({e.Message.TrimEnd('.')})";
            }

            if (problem is not null)
            {
                return problem;
            }
        }

        return null;
    }

    /// <summary>The problem of the <paramref name="i"/>th certificate of <paramref name="path"/>, or null.</summary>
    private static string? Problem(List<X509Certificate2> path, int i, DateTimeOffset at)
    {
        var cert = path[i];
        var issuer = i + 1 < path.Count ? path[i + 1] : cert; // the root signs itself
        string name = Describe(cert);
        if (at < cert.NotBefore.ToUniversalTime() || at > cert.NotAfter.ToUniversalTime())
        {
            return $"{name} is not valid at {at:yyyy-MM-dd HH:mm:ss}Z (valid {cert.NotBefore.ToUniversalTime():yyyy-MM-dd} to {cert.NotAfter.ToUniversalTime():yyyy-MM-dd})";
        }

        if (!cert.IssuerName.RawData.AsSpan().SequenceEqual(issuer.SubjectName.RawData))
        {
            return i + 1 < path.Count
                ? $"{name} was issued by '{cert.Issuer}', not by '{issuer.Subject}'"
                : $"{name} is not self-signed, so it cannot be the root";
        }

        if (i > 0 && CaProblem(cert) is { } notCa)
        {
            return $"{name} {notCa}";
        }

        if (SignatureProblem(cert, issuer) is { } problem)
        {
            return $"{name}: {problem}";
        }

        return null;
    }

    /// <summary>"'CN' (serial …)": how messages name a certificate.</summary>
    public static string Describe(X509Certificate2 cert) => $"certificate '{cert.GetNameInfo(X509NameType.SimpleName, false)}' (serial {cert.SerialNumber})";

    /// <summary>
    /// Null when the issuer's basic constraints make it a CA. The extension's bytes come from the evidence and .NET
    /// decodes them only when asked, so a malformed one is this certificate's problem, not an exception.
    /// </summary>
    private static string? CaProblem(X509Certificate2 cert)
    {
        try
        {
            return cert.Extensions.OfType<X509BasicConstraintsExtension>().FirstOrDefault() is { CertificateAuthority: true }
                ? null : "signs another certificate but is not a CA";
        }
        catch (CryptographicException e)
        {
            return $"signs another certificate, but its basic constraints extension is malformed ({e.Message.TrimEnd('.')})";
        }
    }

    private static string? SignatureProblem(X509Certificate2 cert, X509Certificate2 issuer)
    {
        ReadOnlyMemory<byte> tbs;
        string algorithm;
        ReadOnlyMemory<byte>? parameters;
        byte[] signature;
        try
        {
            var reader = new AsnReader(cert.RawDataMemory, AsnEncodingRules.DER).ReadSequence();
            tbs = reader.ReadEncodedValue();
            var algorithmId = reader.ReadSequence();
            algorithm = algorithmId.ReadObjectIdentifier();
            parameters = algorithmId.HasData ? algorithmId.ReadEncodedValue() : null;
            signature = reader.ReadBitString(out _);
        }
        catch (AsnContentException e)
        {
            return $"malformed certificate ({e.Message})";
        }

        // The keys and signatures come from the evidence: OpenSSL throws on a malformed one, and that is this certificate's problem.
        try
        {
            switch (algorithm)
            {
                case RsaPss:
                    using (var rsa = issuer.GetRSAPublicKey())
                    {
                        if (rsa is null)
                        {
                            return "signed with RSA-PSS, but the issuer's key is not RSA";
                        }

                        var hash = PssHash(parameters);
                        return hash is null ? "RSA-PSS parameters other than SHA-256/384 with MGF1 of the same hash and salt of its length"
                            : rsa.VerifyData(tbs.Span, signature, hash.Value, RSASignaturePadding.Pss) ? null : "the RSA-PSS signature does not verify";
                    }

                case Sha256Rsa or Sha384Rsa:
                    using (var rsa = issuer.GetRSAPublicKey())
                    {
                        var hash = algorithm == Sha256Rsa ? HashAlgorithmName.SHA256 : HashAlgorithmName.SHA384;
                        return rsa is null ? "signed with RSA, but the issuer's key is not RSA"
                            : rsa.VerifyData(tbs.Span, signature, hash, RSASignaturePadding.Pkcs1) ? null : "the RSA signature does not verify";
                    }

                case EcdsaSha256 or EcdsaSha384:
                    using (var ec = issuer.GetECDsaPublicKey())
                    {
                        var hash = algorithm == EcdsaSha256 ? HashAlgorithmName.SHA256 : HashAlgorithmName.SHA384;
                        return ec is null ? "signed with ECDSA, but the issuer's key is not EC"
                            : ec.VerifyData(tbs.Span, signature, hash, DSASignatureFormat.Rfc3279DerSequence) ? null : "the ECDSA signature does not verify";
                    }

                default:
                    return $"signature algorithm {algorithm} is not one AMD or Intel uses";
            }
        }
        catch (CryptographicException e)
        {
            return $"the signature cannot be checked with the issuer's key ({e.Message.TrimEnd('.')})";
        }
    }

    /// <summary>RSASSA-PSS-params: the hash, when MGF1 uses the same hash and the salt is the hash's length (as AMD and .NET sign).</summary>
    private static HashAlgorithmName? PssHash(ReadOnlyMemory<byte>? parameters)
    {
        if (parameters is not { } p)
        {
            return null;
        }

        try
        {
            var seq = new AsnReader(p, AsnEncodingRules.DER).ReadSequence();
            string? hash = null, mgfHash = null;
            int salt = 20;
            while (seq.HasData)
            {
                var tag = seq.PeekTag();
                var field = seq.ReadSequence(tag);
                switch (tag.TagValue)
                {
                    case 0:
                        hash = field.ReadSequence().ReadObjectIdentifier();
                        break;
                    case 1:
                        var mgf = field.ReadSequence();
                        mgf.ReadObjectIdentifier(); // MGF1
                        mgfHash = mgf.ReadSequence().ReadObjectIdentifier();
                        break;
                    case 2:
                        if (!field.TryReadInt32(out salt))
                        {
                            return null; // a salt length past 32 bits is no parameter set we accept
                        }

                        break;
                    default:
                        break;
                }
            }

            return (hash, mgfHash, salt) switch
            {
                (Sha384Oid, Sha384Oid, 48) => HashAlgorithmName.SHA384,
                (Sha256Oid, Sha256Oid, 32) => HashAlgorithmName.SHA256,
                _ => null,
            };
        }
        catch (AsnContentException)
        {
            return null;
        }
    }
}
