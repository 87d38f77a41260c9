using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace CocoLaunch.Attestation.Certificates;

/// <summary>Certificates concatenated in PEM, in their order, as quotes and PCS issuer chains carry them (leaf first).</summary>
public static class PemCertificates
{
    /// <summary>Reads them; <paramref name="what"/> ("q.bin: the PCK certificate chain") names them in errors.</summary>
    public static X509Certificate2[] Read(string pem, string what)
    {
        var certs = new X509Certificate2Collection();
        try
        {
            certs.ImportFromPem(pem);
        }
        catch (CryptographicException e)
        {
            throw new EvidenceFormatException($"{what} is not PEM ({e.Message.TrimEnd('.')})");
        }

        return certs.Count > 0 ? [.. certs] : throw new EvidenceFormatException($"{what} holds no certificate");
    }
}
