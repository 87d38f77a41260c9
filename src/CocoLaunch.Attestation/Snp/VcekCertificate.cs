using System.Formats.Asn1;
using System.Security.Cryptography.X509Certificates;

namespace CocoLaunch.Attestation.Snp;

/// <summary>AMD's VCEK and VLEK extensions (arc 1.3.6.1.4.1.3704.1; snp-launch-digest.md §15): the TCB it was issued for, and the chip.</summary>
public static class VcekCertificate
{
    private const string Arc = "1.3.6.1.4.1.3704.1.";

    private static readonly Dictionary<string, string> SplOids = new()
    {
        ["bl"] = Arc + "3.1",
        ["tee"] = Arc + "3.2",
        ["snp"] = Arc + "3.3",
        ["ucode"] = Arc + "3.8",
    };

    /// <summary>The SPL the certificate states for a component, or null when it has no such extension.</summary>
    public static int? Spl(X509Certificate2 vcek, string component)
    {
        if (Extension(vcek, SplOids[component]) is not { } raw)
        {
            return null;
        }

        try
        {
            return (int)new AsnReader(raw, AsnEncodingRules.DER).ReadInteger();
        }
        catch (AsnContentException)
        {
            return null;
        }
    }

    /// <summary>
    /// Which key a certificate certifies, by its subject: AMD's KDS issues "SEV-VCEK" per chip and TCB, and "SEV-VLEK"
    /// to a cloud provider (KEY_INFO.SIGNING_KEY 0 and 1).
    /// </summary>
    public static SigningKey KindOf(X509Certificate2 cert) =>
        cert.GetNameInfo(X509NameType.SimpleName, false) == "SEV-VLEK" ? SigningKey.Vlek : SigningKey.Vcek;

    /// <summary>hwID: the chip id as raw octets (no ASN.1 tag on Milan/Genoa).</summary>
    public static byte[]? HardwareId(X509Certificate2 vcek) => Extension(vcek, Arc + "4");

    public static string? ProductName(X509Certificate2 vcek)
    {
        if (Extension(vcek, Arc + "2") is not { } raw)
        {
            return null;
        }

        try
        {
            return new AsnReader(raw, AsnEncodingRules.DER).ReadCharacterString(UniversalTagNumber.IA5String);
        }
        catch (AsnContentException)
        {
            return null;
        }
    }

    private static byte[]? Extension(X509Certificate2 cert, string oid) =>
        cert.Extensions.FirstOrDefault(e => e.Oid?.Value == oid)?.RawData;
}

/// <summary>The key that signs an SNP report, as KEY_INFO.SIGNING_KEY numbers it.</summary>
public enum SigningKey
{
    Vcek = 0,
    Vlek = 1,
}
