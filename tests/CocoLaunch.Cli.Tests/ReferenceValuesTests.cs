using System.Text;
using System.Text.Json;
using CocoLaunch.Tests.Shared;

namespace CocoLaunch.Cli.Tests;

/// <summary>reference-values and verify: signed round trips, tampering, trust, and mismatches that name what changed.</summary>
public sealed class ReferenceValuesTests
{
    private const string TdxSampleMrtd = "445c6c61e0ce64066d2848cc2f20cee3d3eee998610e57e04ef76629760cb30b0b15440be1d92629fe0b8ec17cf6c85e";

    private static string Spec(string name) => RepoPaths.LaunchSpec(name);

    private static string Key(string name) => Path.Combine(RepoPaths.Root, "samples", "ci", "test-keys", name);

    private static string Signed(TempDir dir, string signature = "detached", params string[] specs)
    {
        string refs = Path.Combine(dir.Path, "refs.json");
        var result = CliRunner.Run([
            "reference-values", .. (specs.Length > 0 ? specs : [Spec("tdx-4k-sample.yaml")]), "--out", refs,
            "--sign-cert", Key("signer.pem"), "--sign-key", Key("signer.key"), "--signature", signature]);
        Assert.True(result.Exit == 0, result.Stderr);
        return refs;
    }

    [Theory]
    [InlineData("detached")]
    [InlineData("enveloping")]
    public void SignedRoundTrip_Matches_Exit0(string signature)
    {
        using var dir = new TempDir();
        var result = CliRunner.Run("verify", Spec("tdx-4k-sample.yaml"), "--reference-values", Signed(dir, signature), "--trust", Key("ca.pem"));
        Assert.Equal(0, result.Exit);
        Assert.Equal(
            $"reference values signed by O=CocoLaunch TEST KEYS, CN=CocoLaunch CI sample reference-value signer (TEST KEY), trusted\nmatch: tdx-4k-sample MRTD {TdxSampleMrtd}\n",
            result.Stdout);
    }

    [Fact]
    public void OneChangedByteInTheDocument_BadSignature_Exit2()
    {
        using var dir = new TempDir();
        string refs = Signed(dir);
        var bytes = File.ReadAllBytes(refs);
        int at = Encoding.ASCII.GetString(bytes).IndexOf(TdxSampleMrtd, StringComparison.Ordinal);
        bytes[at] = (byte)'5'; // 4 -> 5: the digest itself
        File.WriteAllBytes(refs, bytes);
        var result = CliRunner.Run("verify", Spec("tdx-4k-sample.yaml"), "--reference-values", refs, "--trust", Key("ca.pem"));
        Assert.Equal(2, result.Exit);
        Assert.EndsWith("the document or the signature was changed", result.ErrorLine, StringComparison.Ordinal);
    }

    [Fact]
    public void OneChangedByteInTheSignature_Exit2()
    {
        using var dir = new TempDir();
        string refs = Signed(dir);
        var sig = File.ReadAllBytes(refs + ".p7s");
        sig[^10] ^= 0x01;
        File.WriteAllBytes(refs + ".p7s", sig);
        var result = CliRunner.Run("verify", Spec("tdx-4k-sample.yaml"), "--reference-values", refs, "--trust", Key("ca.pem"));
        Assert.Equal(2, result.Exit);
        Assert.Contains("refs.json.p7s", result.ErrorLine, StringComparison.Ordinal);
    }

    [Fact]
    public void WrongTrustAnchor_Exit2_NamesTheSigner()
    {
        using var dir = new TempDir();
        string root = dir.Write("other-root.pem", Attestation.TestChain.Pem("tdx-test-root.pem"));
        var result = CliRunner.Run("verify", Spec("tdx-4k-sample.yaml"), "--reference-values", Signed(dir), "--trust", root);
        Assert.Equal(2, result.Exit);
        Assert.Contains("the signer is not trusted: certificate 'CocoLaunch CI sample reference-value signer (TEST KEY)'", result.ErrorLine, StringComparison.Ordinal);
    }

    [Fact]
    public void UnsignedDocument_WithTrust_Exit2()
    {
        using var dir = new TempDir();
        string refs = Path.Combine(dir.Path, "plain.json");
        Assert.Equal(0, CliRunner.Run("reference-values", Spec("tdx-4k-sample.yaml"), "--out", refs).Exit);
        var result = CliRunner.Run("verify", Spec("tdx-4k-sample.yaml"), "--reference-values", refs, "--trust", Key("ca.pem"));
        Assert.Equal(2, result.Exit);
        Assert.Contains("--trust asks for a signed document, but there is no plain.json.p7s beside it", result.ErrorLine, StringComparison.Ordinal);
        Assert.Equal(0, CliRunner.Run("verify", Spec("tdx-4k-sample.yaml"), "--reference-values", refs).Exit); // unsigned, untrusted: still a digest check
    }

    [Fact]
    public void ChangedFirmware_Mismatch_Exit1_NamesTheInputAndTheFirstDivergentOperation()
    {
        using var dir = new TempDir();
        string refs = Signed(dir, "detached", Spec("snp-sample.yaml"));
        var image = File.ReadAllBytes(Path.Combine(RepoPaths.Root, "samples", "snp", "bin", "snp.fd"));
        image[0x5000] ^= 0x01; // the image's sixth page
        File.WriteAllBytes(Path.Combine(dir.Path, "snp.fd"), image);
        string spec = dir.Write("snp-sample.yaml", File.ReadAllText(Spec("snp-sample.yaml")).Replace("../samples/snp/bin/snp.fd", "snp.fd", StringComparison.Ordinal));
        var result = CliRunner.Run("verify", spec, "--reference-values", refs, "--trust", Key("ca.pem"));
        Assert.Equal(1, result.Exit);
        var lines = result.Stdout.Split('\n');
        Assert.Equal("MISMATCH: snp-sample MEASUREMENT", lines[1]);
        Assert.StartsWith("  input firmware changed: sha256 ", lines.Single(l => l.Contains("input firmware", StringComparison.Ordinal)), StringComparison.Ordinal);
        int i = Array.FindIndex(lines, l => l.StartsWith("  first divergent measured operation, 5 ", StringComparison.Ordinal));
        Assert.True(i > 0, result.Stdout);
        Assert.StartsWith("    expected:        5 UPDATE.NORMAL gpa=0x0000ffff5000 bytes=4208 firmware content=", lines[i + 1], StringComparison.Ordinal);
        Assert.StartsWith("    actual:          5 UPDATE.NORMAL gpa=0x0000ffff5000 bytes=4208 firmware content=", lines[i + 2], StringComparison.Ordinal);
        Assert.NotEqual(lines[i + 1][^16..], lines[i + 2][^16..]);
    }

    [Fact]
    public void Expected_Mismatch_Exit1_WithoutALog()
    {
        var result = CliRunner.Run("verify", Spec("tdx-4k-sample.yaml"), "--expected", new string('0', 96));
        Assert.Equal(1, result.Exit);
        Assert.Contains($"  expected: {new string('0', 96)}\n  actual:   {TdxSampleMrtd}\n", result.Stdout, StringComparison.Ordinal);
        Assert.Equal(0, CliRunner.Run("verify", Spec("tdx-4k-sample.yaml"), "--expected", TdxSampleMrtd.ToUpperInvariant()).Exit);
    }

    [Theory]
    [InlineData(new[] { "--expected", "abc" }, "--expected: 'abc' is not a digest (96 hex digits for MRTD or MEASUREMENT, 64 for SEV)")]
    [InlineData(new string[0], "verify needs exactly one of --expected HEX and --reference-values FILE")]
    public void BadArguments_Exit2(string[] args, string message)
    {
        var result = CliRunner.Run(["verify", Spec("tdx-4k-sample.yaml"), .. args]);
        Assert.Equal(2, result.Exit);
        Assert.Equal($"cocolaunch: {message}", result.ErrorLine);
    }

    [Theory]
    [InlineData("[]", "not a reference-value document (a JSON object) nor a CMS message enveloping one")]
    [InlineData("{\"x\":1", "not JSON")]
    public void MalformedDocument_Exit2_NamesTheFile(string text, string message)
    {
        using var dir = new TempDir();
        string path = dir.Write("refs.json", text);
        var result = CliRunner.Run("verify", Spec("tdx-4k-sample.yaml"), "--reference-values", path);
        Assert.Equal(2, result.Exit);
        Assert.StartsWith($"cocolaunch: {path}: {message}", result.ErrorLine, StringComparison.Ordinal);
    }

    [Fact]
    public void Json_MachineReadable()
    {
        var result = CliRunner.Run("verify", Spec("tdx-4k-sample.yaml"), "--expected", TdxSampleMrtd, "--format", "json");
        using var json = JsonDocument.Parse(result.Stdout);
        Assert.True(json.RootElement.GetProperty("match").GetBoolean());
        Assert.Equal(TdxSampleMrtd, json.RootElement.GetProperty("actual").GetString());
    }

    [Fact]
    public void TrusteeFormat_IsAnRvpsSampleMessage_WithHexLists()
    {
        var result = CliRunner.Run("reference-values", Spec("tdx-4k-sample.yaml"), Spec("snp-sample.yaml"), "--format", "trustee");
        using var message = JsonDocument.Parse(result.Stdout);
        Assert.Equal(("0.1.0", "sample"), (message.RootElement.GetProperty("version").GetString(), message.RootElement.GetProperty("type").GetString()));
        string payload = Encoding.UTF8.GetString(Convert.FromBase64String(message.RootElement.GetProperty("payload").GetString()!));
        // xfam 0x602e7 as the quote stores it: 8 little-endian bytes.
        Assert.Equal(
            $"{{\"mr_td\":[\"{TdxSampleMrtd}\"],\"snp_launch_measurement\":[\"634107b7f141c774e263f169cd1ccc6db36aa05090c9ebe2ed50bbf87f55af20700c254762a21ae28dd2c2c4af9de09e\"],\"xfam\":[\"e702060000000000\"]}}",
            payload);
    }

    [Fact]
    public void SigningWithAKeyThatIsNotTheCertificates_Exit2()
    {
        using var dir = new TempDir();
        using var other = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256);
        string key = dir.Write("other.key", other.ExportPkcs8PrivateKeyPem());
        var result = CliRunner.Run("reference-values", Spec("tdx-4k-sample.yaml"), "--out", Path.Combine(dir.Path, "r.json"), "--sign-cert", Key("signer.pem"), "--sign-key", key);
        Assert.Equal(2, result.Exit);
        Assert.StartsWith($"cocolaunch: --sign-cert {Key("signer.pem")} / --sign-key {key}: ", result.ErrorLine, StringComparison.Ordinal);
    }
}
