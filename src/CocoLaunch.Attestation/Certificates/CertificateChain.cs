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
                // X509Certificate2 decodes validity, names and extensions lazily: a certificate that loaded may still
                // be malformed inside, and then reading it throws here.
                problem = $"certificate #{i} of the chain (leaf first) cannot be read: {e.Message.TrimEnd('.')}";
            }

            if (problem is not null)
            {
                return problem;
            }
        }

        return null;
    }

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

        if (i > 0 && !IsCa(cert))
        {
            return $"{name} signs another certificate but is not a CA";
        }

        return SignedObject.Problem(cert.RawDataMemory, issuer) is { } problem ? $"{name}: {problem}" : null;
    }

    /// <summary>"'CN' (serial …)": how messages name a certificate.</summary>
    public static string Describe(X509Certificate2 cert) => $"certificate '{cert.GetNameInfo(X509NameType.SimpleName, false)}' (serial {cert.SerialNumber})";

    private static bool IsCa(X509Certificate2 cert) =>
        cert.Extensions.OfType<X509BasicConstraintsExtension>().FirstOrDefault() is { CertificateAuthority: true };
}
