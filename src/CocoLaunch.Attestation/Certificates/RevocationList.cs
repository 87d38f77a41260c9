using System.Formats.Asn1;
using System.Numerics;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace CocoLaunch.Attestation.Certificates;

/// <summary>
/// An X.509 CRL (RFC 5280 §5.1) as AMD's KDS and Intel's PCS publish them, DER or PEM: who issued it, its period and
/// the serial numbers it revokes. Its signature is checked by <see cref="RevocationCheck"/> against the issuer.
/// </summary>
public sealed class RevocationList
{
    private RevocationList(string name, byte[] der, X500DistinguishedName issuer, string issuerName, DateTimeOffset thisUpdate, DateTimeOffset? nextUpdate, HashSet<BigInteger> revoked)
    {
        Name = name;
        Der = der;
        Issuer = issuer;
        IssuerName = issuerName;
        ThisUpdate = thisUpdate;
        NextUpdate = nextUpdate;
        Revoked = revoked;
    }

    /// <summary>Where it came from (a file name), for messages.</summary>
    public string Name { get; }

    public byte[] Der { get; }

    public X500DistinguishedName Issuer { get; }

    public DateTimeOffset ThisUpdate { get; }

    public DateTimeOffset? NextUpdate { get; }

    public IReadOnlySet<BigInteger> Revoked { get; }

    /// <summary>The issuer's common name (else its whole name), as messages and check names show it.</summary>
    public string IssuerName { get; }

    public bool Lists(X509Certificate2 cert) => Revoked.Contains(Serial(cert));

    /// <summary>A certificate's serial number as the integer CRLs list.</summary>
    public static BigInteger Serial(X509Certificate2 cert) => new(cert.SerialNumberBytes.Span, isUnsigned: false, isBigEndian: true);

    /// <summary>Reads a CRL; anything malformed is an <see cref="EvidenceFormatException"/> naming the part.</summary>
    public static RevocationList Parse(byte[] bytes, string name)
    {
        byte[] der = Unarmor(bytes, name);
        string part = "the CertificateList";
        try
        {
            var tbs = new AsnReader(der, AsnEncodingRules.DER).ReadSequence().ReadSequence();
            part = "the version";
            if (tbs.PeekTag().HasSameClassAndValue(Asn1Tag.Integer))
            {
                tbs.ReadInteger();
            }

            part = "the signature algorithm";
            tbs.ReadSequence();
            part = "the issuer";
            var issuer = new X500DistinguishedName(tbs.ReadEncodedValue().Span);
            string issuerName = CommonName(issuer);
            part = "thisUpdate";
            var thisUpdate = ReadTime(tbs);
            part = "nextUpdate";
            DateTimeOffset? nextUpdate = tbs.HasData && IsTime(tbs.PeekTag()) ? ReadTime(tbs) : null;
            var revoked = new HashSet<BigInteger>();
            if (tbs.HasData && tbs.PeekTag().HasSameClassAndValue(Asn1Tag.Sequence))
            {
                var entries = tbs.ReadSequence();
                while (entries.HasData)
                {
                    part = $"revoked certificate #{revoked.Count + 1}";
                    revoked.Add(entries.ReadSequence().ReadInteger());
                }
            }

            return new RevocationList(name, der, issuer, issuerName, thisUpdate, nextUpdate, revoked);
        }
        catch (Exception e) when (e is AsnContentException or CryptographicException)
        {
            throw new EvidenceFormatException($"{name}: not an X.509 CRL: {part} cannot be read ({e.Message.TrimEnd('.')})");
        }
    }

    /// <summary>
    /// The most specific single-valued CN (.NET lists RDNs from the name's end), else the whole name. X500DistinguishedName decodes its attributes only when they
    /// are read, so this runs in <see cref="Parse"/>: a malformed name is then this CRL's format error, where it was an
    /// exception out of the revocation check (fuzz/README.md, tdx-collateral). A multi-valued RDN has no single type.
    /// </summary>
    private static string CommonName(X500DistinguishedName name) =>
        name.EnumerateRelativeDistinguishedNames().Where(r => !r.HasMultipleElements)
            .FirstOrDefault(r => r.GetSingleElementType().Value == "2.5.4.3")?.GetSingleElementValue() ?? name.Name;

    private static byte[] Unarmor(byte[] bytes, string name)
    {
        if (bytes.AsSpan().IndexOf("-----BEGIN"u8) < 0)
        {
            return bytes;
        }

        string text = Encoding.ASCII.GetString(bytes);
        return PemEncoding.TryFind(text, out var fields) && text[fields.Label] == "X509 CRL"
            ? Convert.FromBase64String(text[fields.Base64Data])
            : throw new EvidenceFormatException($"{name}: PEM without an 'X509 CRL' block");
    }

    private static bool IsTime(Asn1Tag tag) => tag.HasSameClassAndValue(Asn1Tag.UtcTime) || tag.HasSameClassAndValue(Asn1Tag.GeneralizedTime);

    private static DateTimeOffset ReadTime(AsnReader reader) =>
        reader.PeekTag().HasSameClassAndValue(Asn1Tag.UtcTime) ? reader.ReadUtcTime() : reader.ReadGeneralizedTime();
}
