using System.Security.Cryptography.X509Certificates;
using CocoLaunch.Tests.Shared;

namespace CocoLaunch.Cli.Tests;

/// <summary>
/// Every certificate a verb reads is taken in PEM or DER (issue 21 item 6): AMD's KDS serves the VCEK as DER
/// (vcek.der), other tools write PEM. The real Milan report from go-sev-guest (tests/data/attestation/README.md) is
/// verified with its ARK, ASK and VCEK in each encoding, converted here by .NET's own X509 code, not the product's.
/// </summary>
public sealed class CertificateEncodingTests
{
    private static string Data(string path) => Path.Combine(RepoPaths.Root, "tests", "data", "attestation", "snp-go-sev-guest", path);

    /// <summary>The certificate's bytes in the encoding asked for ("pem" or "der"), read from the repository's copy.</summary>
    private static byte[] Encoded(string name, string encoding)
    {
        string pem = Data(name + ".pem"), der = Data(name + ".der");
        using var cert = File.Exists(der) ? X509CertificateLoader.LoadCertificate(File.ReadAllBytes(der)) : X509Certificate2.CreateFromPem(File.ReadAllText(pem));
        return encoding == "der" ? cert.RawData : System.Text.Encoding.ASCII.GetBytes(cert.ExportCertificatePem());
    }

    /// <summary>The VCEK and ASK found beside the report (NAME.pem, else NAME.der), the root given by --root.</summary>
    [Theory]
    [InlineData("der", "der", "der")]
    [InlineData("pem", "pem", "pem")]
    [InlineData("der", "pem", "pem")]
    [InlineData("pem", "der", "der")]
    public void RealMilanReport_CertificatesBesideIt_InEitherEncoding_Verify(string vcek, string ask, string ark)
    {
        using var dir = new TempDir();
        string report = dir.Write("report.bin", File.ReadAllBytes(Data("report.bin")));
        dir.Write("vcek." + vcek, Encoded("vcek", vcek));
        dir.Write("ask." + ask, Encoded("ask", ask));
        string root = dir.Write("root." + ark, Encoded("ark", ark));

        var result = CliRunner.Run("verify-evidence", report, "--root", root, "--at", "2025-06-01T00:00:00Z", "--allow-debug", "--no-measurement-check");

        Assert.True(result.Exit == 0, result.Stdout + result.Stderr);
    }

    /// <summary>Named by --vcek and --ask, whatever the file is called: the content tells the encoding, not the name.</summary>
    [Theory]
    [InlineData("der", "pem")]
    [InlineData("pem", "der")]
    public void RealMilanReport_CertificatesNamedByOptions_InEitherEncoding_Verify(string vcek, string ask)
    {
        using var dir = new TempDir();
        string vcekFile = dir.Write("vcek.crt", Encoded("vcek", vcek));
        string askFile = dir.Write("ask.crt", Encoded("ask", ask));

        var result = CliRunner.Run("verify-evidence", Data("report.bin"), "--root", Data("ark.pem"), "--vcek", vcekFile, "--ask", askFile,
            "--at", "2025-06-01T00:00:00Z", "--allow-debug", "--no-measurement-check");

        Assert.True(result.Exit == 0, result.Stdout + result.Stderr);
    }

    [Fact]
    public void NeitherPemNorDer_Exit2_NamesTheFile()
    {
        using var dir = new TempDir();
        string vcek = dir.Write("vcek.der", [0x30, 0x03, 0x02, 0x01]);

        var result = CliRunner.Run("verify-evidence", Data("report.bin"), "--root", Data("ark.pem"), "--vcek", vcek, "--ask", Data("ask.pem"), "--no-measurement-check");

        Assert.Equal(2, result.Exit);
        Assert.StartsWith($"cocolaunch: {vcek}: not a PEM or DER certificate", result.ErrorLine, StringComparison.Ordinal);
    }

    /// <summary>--trust (verify) and --sign-cert (reference-values) take DER as well: sign with the DER signer, verify trusting the DER root.</summary>
    [Fact]
    public void ReferenceValues_SignedWithADerCertificate_VerifyTrustingADerRoot()
    {
        string keys = Path.Combine(RepoPaths.Root, "samples", "ci", "test-keys");
        using var dir = new TempDir();
        string signer = dir.Write("signer.der", X509Certificate2.CreateFromPem(File.ReadAllText(Path.Combine(keys, "signer.pem"))).RawData);
        string root = dir.Write("ca.der", X509Certificate2.CreateFromPem(File.ReadAllText(Path.Combine(keys, "ca.pem"))).RawData);
        string references = Path.Combine(dir.Path, "refs.json");
        string spec = RepoPaths.LaunchSpec("tdx.yaml");

        var signed = CliRunner.Run("reference-values", spec, "--out", references, "--sign-cert", signer, "--sign-key", Path.Combine(keys, "signer.key"));
        Assert.True(signed.Exit == 0, signed.Stderr);
        var verified = CliRunner.Run("verify", spec, "--reference-values", references, "--trust", root);

        Assert.True(verified.Exit == 0, verified.Stdout + verified.Stderr);
    }
}
