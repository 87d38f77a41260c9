using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace CocoLaunch.Attestation.Certificates;

/// <summary>
/// An X.509 signed object, a certificate or a CRL (RFC 5280 §4.1 and §5.1 share the form SEQUENCE { to-be-signed,
/// AlgorithmIdentifier, BIT STRING }), checked against its issuer's key: RSA-PSS as AMD signs, PKCS#1 v1.5, or ECDSA
/// as Intel signs.
/// </summary>
public static class SignedObject
{
    private const string RsaPss = "1.2.840.113549.1.1.10", Sha256Rsa = "1.2.840.113549.1.1.11", Sha384Rsa = "1.2.840.113549.1.1.12";
    private const string EcdsaSha256 = "1.2.840.10045.4.3.2", EcdsaSha384 = "1.2.840.10045.4.3.3";
    private const string Sha256Oid = "2.16.840.1.101.3.4.2.1", Sha384Oid = "2.16.840.1.101.3.4.2.2";

    /// <summary>Null when <paramref name="signed"/> (DER) verifies with <paramref name="issuer"/>'s key; else what is wrong.</summary>
    public static string? Problem(ReadOnlyMemory<byte> signed, X509Certificate2 issuer)
    {
        ReadOnlyMemory<byte> tbs;
        string algorithm;
        ReadOnlyMemory<byte>? parameters;
        byte[] signature;
        try
        {
            var reader = new AsnReader(signed, AsnEncodingRules.DER).ReadSequence();
            tbs = reader.ReadEncodedValue();
            var algorithmId = reader.ReadSequence();
            algorithm = algorithmId.ReadObjectIdentifier();
            parameters = algorithmId.HasData ? algorithmId.ReadEncodedValue() : null;
            signature = reader.ReadBitString(out _);
        }
        catch (AsnContentException e)
        {
            return $"malformed signed object ({e.Message})";
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
    internal static HashAlgorithmName? PssHash(ReadOnlyMemory<byte>? parameters)
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
                if (tag.TagClass != TagClass.ContextSpecific)
                {
                    return null; // RSASSA-PSS-params holds only [0]..[3]; AsnReader refuses a universal tag as a sequence's with an ArgumentException
                }

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
                            return null;
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
