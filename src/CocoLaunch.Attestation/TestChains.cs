using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace CocoLaunch.Attestation;

/// <summary>
/// The test chains that sign emulated evidence (TestChains/README.md): clearly test keys, shipped inside the
/// assembly so that an emulated launch's evidence always verifies against the same roots.
/// </summary>
public static class TestChain
{
    public static X509Certificate2 SnpArk => Load("snp-test-ark.pem");

    public static X509Certificate2 SnpAsk => Load("snp-test-ask.pem");

    public static X509Certificate2 SnpVcek => Load("snp-test-vcek.pem");

    public static X509Certificate2 TdxRoot => Load("tdx-test-root.pem");

    public static X509Certificate2 TdxPlatformCa => Load("tdx-test-platform-ca.pem");

    public static X509Certificate2 TdxPck => Load("tdx-test-pck.pem");

    /// <summary><see cref="Pem"/> as the bytes of a .pem file.</summary>
    public static byte[] PemBytes(string name) => System.Text.Encoding.ASCII.GetBytes(Pem(name));

    /// <summary>The PEM text of a test certificate, for writing next to evidence.</summary>
    public static string Pem(string name)
    {
        using var stream = typeof(TestChain).Assembly.GetManifestResourceStream($"TestChains.{name}")
            ?? throw new InvalidOperationException($"test certificate {name} is not embedded");
        using var reader = new StreamReader(stream, Encoding.ASCII);
        return reader.ReadToEnd();
    }

    /// <summary>The emulated PCK key, derived from a public string: it signs the emulated quoting enclave's report.</summary>
    public static ECDsa CreatePckKey() => Derive("CocoLaunch emulated PCK (test key, not secret)");

    /// <summary>The emulated quoting enclave's attestation key, derived from a public string: it signs TDX quotes.</summary>
    public static ECDsa CreateAttestationKey() => Derive("CocoLaunch emulated TDX attestation key (test key, not secret)");

    private static ECDsa Derive(string label)
    {
        var d = SHA256.HashData(Encoding.ASCII.GetBytes(label));
        d[0] &= 0x7F; // below the P-256 group order
        return ECDsa.Create(new ECParameters { Curve = ECCurve.NamedCurves.nistP256, D = d });
    }

    private static X509Certificate2 Load(string name) => X509Certificate2.CreateFromPem(Pem(name));
}
