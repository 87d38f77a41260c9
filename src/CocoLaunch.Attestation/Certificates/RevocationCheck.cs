using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.RegularExpressions;

namespace CocoLaunch.Attestation.Certificates;

/// <summary>
/// Checks a CRL against the certificates a verification relied on: the CRL must be signed by one of them (the issuer
/// it names), current at the verification time, and must not list any certificate that issuer issued. No
/// distribution point is fetched: the caller brings the CRL, so the answer depends on the inputs alone.
/// </summary>
public static class RevocationCheck
{
    /// <summary>One finding, named "crl." and the issuer's common name, e.g. "crl.intel-sgx-root-ca".</summary>
    public static Finding Check(RevocationList crl, IReadOnlyList<X509Certificate2> certificates, DateTimeOffset at)
    {
        string check = "crl." + Slug(crl.IssuerName);
        string what = $"{crl.Name} ('{crl.IssuerName}' CRL of {crl.ThisUpdate:yyyy-MM-dd}, {crl.Revoked.Count} revoked)";
        var issuers = certificates.Where(c => c.SubjectName.RawData.AsSpan().SequenceEqual(crl.Issuer.RawData)).ToList();
        if (issuers.Count == 0)
        {
            return new(check, false, $"{what} is issued by no certificate of this verification, so it revokes none of them");
        }

        string? signatureProblem = null;
        foreach (var issuer in issuers)
        {
            signatureProblem = Signature(crl, issuer);
            if (signatureProblem is null)
            {
                break;
            }
        }

        if (signatureProblem is not null)
        {
            return new(check, false, $"{what}: {signatureProblem}");
        }

        if (at < crl.ThisUpdate || (crl.NextUpdate is { } next && at > next))
        {
            return new(check, false, $"{what} is not current at {at:yyyy-MM-dd HH:mm:ss}Z (this update {crl.ThisUpdate:yyyy-MM-dd HH:mm:ss}Z, next update {crl.NextUpdate:yyyy-MM-dd HH:mm:ss}Z)");
        }

        var covered = certificates.Where(c => c.IssuerName.RawData.AsSpan().SequenceEqual(crl.Issuer.RawData) && !c.IssuerName.RawData.AsSpan().SequenceEqual(c.SubjectName.RawData))
            .DistinctBy(c => Convert.ToHexString(c.RawDataMemory.Span)).ToList();
        if (covered.FirstOrDefault(crl.Lists) is { } revoked)
        {
            return new(check, false, $"{what} revokes {CertificateChain.Describe(revoked)}");
        }

        return new(check, true, covered.Count == 0
            ? $"{what} is signed by its issuer, but covers no certificate of this verification"
            : $"{what} is signed by its issuer and revokes none of {string.Join(", ", covered.Select(CertificateChain.Describe))}");
    }

    private static string? Signature(RevocationList crl, X509Certificate2 issuer)
    {
        try
        {
            return SignedObject.Problem(crl.Der, issuer) is { } problem ? $"its signature by {CertificateChain.Describe(issuer)} fails: {problem}" : null;
        }
        catch (CryptographicException e)
        {
            return $"its issuer's key cannot be read: {e.Message.TrimEnd('.')}";
        }
    }

    private static string Slug(string name) => Regex.Replace(name.ToLowerInvariant(), "[^a-z0-9]+", "-").Trim('-');
}
