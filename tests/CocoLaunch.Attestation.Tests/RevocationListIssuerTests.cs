using System.Formats.Asn1;
using CocoLaunch.Attestation.Certificates;

namespace CocoLaunch.Attestation.Tests;

/// <summary>
/// A CRL's issuer name is read when the CRL is parsed (fuzz/README.md: the tdx-collateral target found a CRL whose
/// issuer name has a bad inner length; X500DistinguishedName took it and threw only when the revocation check read it).
/// The CRLs are written here with AsnWriter: Parse does not check the signature, so none is needed.
/// </summary>
public sealed class RevocationListIssuerTests
{
    /// <summary>A CertificateList whose TBSCertList has <paramref name="issuer"/> as it is, and an empty signature.</summary>
    private static byte[] Crl(byte[] issuer)
    {
        var w = new AsnWriter(AsnEncodingRules.DER);
        using (w.PushSequence())
        {
            using (w.PushSequence())
            {
                w.WriteInteger(1);
                using (w.PushSequence())
                {
                    w.WriteObjectIdentifier("1.2.840.10045.4.3.2"); // ecdsa-with-SHA256
                }

                w.WriteEncodedValue(issuer);
                w.WriteUtcTime(new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero));
                w.WriteUtcTime(new DateTimeOffset(2035, 1, 1, 0, 0, 0, TimeSpan.Zero));
            }

            using (w.PushSequence())
            {
                w.WriteObjectIdentifier("1.2.840.10045.4.3.2");
            }

            w.WriteBitString([]);
        }

        return w.Encode();
    }

    private static void Attribute(AsnWriter w, string oid, string value)
    {
        using (w.PushSequence())
        {
            w.WriteObjectIdentifier(oid);
            w.WriteCharacterString(UniversalTagNumber.UTF8String, value);
        }
    }

    [Fact]
    public void IssuerNameWithABadInnerLength_IsAFormatError_NamingTheIssuer()
    {
        // Name SEQUENCE (6 bytes) { SET (4 bytes) { SEQUENCE claiming 9 bytes with 2 left } }: the outer TLV is whole.
        byte[] issuer = [0x30, 0x06, 0x31, 0x04, 0x30, 0x09, 0x06, 0x03];
        var e = Assert.Throws<EvidenceFormatException>(() => RevocationList.Parse(Crl(issuer), "bad.crl"));
        Assert.StartsWith("bad.crl: not an X.509 CRL: the issuer cannot be read (", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void IssuerWithAMultiValuedRdn_IsNamedByItsSingleValuedCn()
    {
        // GetSingleElementType throws for an RDN of two attributes (O + CN here, the last RDN, which .NET lists first):
        // those are skipped, not read.
        var w = new AsnWriter(AsnEncodingRules.DER);
        using (w.PushSequence())
        {
            using (w.PushSetOf())
            {
                Attribute(w, "2.5.4.3", "Single CA");
            }

            using (w.PushSetOf())
            {
                Attribute(w, "2.5.4.10", "Test Org");
                Attribute(w, "2.5.4.3", "Multi CA");
            }
        }

        var crl = RevocationList.Parse(Crl(w.Encode()), "multi.crl");
        Assert.Equal("Single CA", crl.IssuerName);
    }
}
