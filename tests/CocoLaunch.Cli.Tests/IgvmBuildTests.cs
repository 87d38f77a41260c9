using System.Security.Cryptography;
using CocoLaunch.Firmware.Snp;
using CocoLaunch.Tests.Shared;

namespace CocoLaunch.Cli.Tests;

/// <summary>
/// <c>igvm build SPEC --out FILE.igvm</c>: the built file passes the strict reader, and measuring it gives exactly
/// the digest <c>measure SPEC</c> gives. SNP files need <c>--profile igvm-native-zero</c>: the spec's launch measures
/// SEV metadata's zero sections as ZERO pages, which is how QEMU's IGVM loader (and igvmmeasure --native-zero)
/// loads a page without data, while igvmmeasure's default measures it as a NORMAL page of zeros.
/// </summary>
public sealed class IgvmBuildTests
{
    private const string NativeZero = "igvm-native-zero";

    /// <summary>
    /// Every shipped SNP and TDX spec that measure accepts, with its digest. Left out: snp-sample-single-socket
    /// (measure refuses it: KVM has no SINGLE_SOCKET policy) and tdx-two-pass (igvm build refuses it, below).
    /// </summary>
    public static TheoryData<string, string, string> Specs => new()
    {
        { "snp-sample", "snp", SnpSampleTests.OracleDigest },
        { "snp-sample-2m", "snp", SnpSampleTests.OracleDigest },
        { "snp-sample-debug", "snp", SnpSampleTests.OracleDigest },
        { "snp-sample-2vcpu", "snp", "c8bde2f61ba3ad2a226e4ebeeef0cc28016dafd26392fb92826560193ee1676d9a6de1f8ef63ae4984a1fd60ac136976" },
        { "snp", "snp", "a479327cbb0b50e876024c2dac7412d4e5e95c7315c1f8b0446f6d3be69fefba50766285475926737e4a70b155252f88" },
        { "snp-direct-boot", "snp", "7013fadc1a03edcb15778fd668ed571fd2b26abf7a4ae8adab220f61bb1d236649eb175ea281e6524617091507fba1fd" },
        { "snp-svsm", "snp", "27d154c27b7b359c935e250ec6fee72aa0ae8c1225e3b0e1cf46a9567e938066d7d6f94bbdc4a857818bdb79277a44b2" },
        { "linux-snp", "snp", "8781c5589a22cbcf0bab89bfaa26f3ba6eb1e831c031f80b2aa6f34188d712d85b3a1e08a1d298d46ab9e10c10b48b5f" },
        { "tdx", "tdx", "4c7206f0f483c524f12c366c711e9049030a8d47c471ee5aa9c4999a08de4057fb887fed0744d5631a212967fb231c47" },
        { "tdx-split", "tdx", "4c7206f0f483c524f12c366c711e9049030a8d47c471ee5aa9c4999a08de4057fb887fed0744d5631a212967fb231c47" },
        { "tdx-4k-sample", "tdx", "445c6c61e0ce64066d2848cc2f20cee3d3eee998610e57e04ef76629760cb30b0b15440be1d92629fe0b8ec17cf6c85e" },
        { "tdx-4k-sample-2m", "tdx", "445c6c61e0ce64066d2848cc2f20cee3d3eee998610e57e04ef76629760cb30b0b15440be1d92629fe0b8ec17cf6c85e" },
        { "tdx-direct-boot", "tdx", "bdc6fb145880f06f30c8b346b8dce2a99d9351b56892df22f80fcf6574caa9f9c31df8e8576d53b4d0cd1c3f28910e11" },
        { "linux-tdx", "tdx", "a3c9fc9a8333888e1c9dd3f92155c83a479b93254b84e1b753a9c88a04b24fc003abe9314e7c21b105ed6029e0553fbe" },
    };

    private static string[] MeasureFile(string path, string platform) =>
        platform == "snp" ? ["measure", path, "--platform", platform, "--profile", NativeZero] : ["measure", path, "--platform", platform];

    private static (string Path, CliResult Build) Build(TempDir dir, string spec)
    {
        string path = Path.Combine(dir.Path, Path.GetFileNameWithoutExtension(spec) + ".igvm");
        return (path, CliRunner.Run("igvm", "build", spec, "--out", path));
    }

    [Theory]
    [MemberData(nameof(Specs))]
    public void BuiltFile_MeasuresAsTheSpec_AndPassesTheStrictReader(string name, string platform, string digest)
    {
        string spec = RepoPaths.LaunchSpec(name + ".yaml");
        using var dir = new TempDir();
        var (path, build) = Build(dir, spec);
        Assert.True(build.Exit == 0, build.Stderr);
        Assert.EndsWith($"its digest: {string.Join(' ', MeasureFile(path, platform))}", build.Stdout.Trim(), StringComparison.Ordinal);

        var fromSpec = CliRunner.Run("measure", spec);
        var fromFile = CliRunner.Run(MeasureFile(path, platform));
        Assert.Equal((0, digest), (fromSpec.Exit, fromSpec.Stdout.Trim()));
        Assert.Equal((0, digest, string.Empty), (fromFile.Exit, fromFile.Stdout.Trim(), fromFile.Stderr));

        var inspect = CliRunner.Run("inspect", path);
        Assert.True(inspect.Exit == 0, inspect.Stderr);
        Assert.Contains(platform == "snp" ? "sev-snp" : "tdx", inspect.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void SnpFile_UnderIgvmmeasuresDefault_MeasuresZeroPagesAsNormal_AndDiffers()
    {
        using var dir = new TempDir();
        var (path, _) = Build(dir, RepoPaths.LaunchSpec("snp-sample.yaml"));
        var result = CliRunner.Run("measure", path, "--platform", "snp");
        Assert.Equal(0, result.Exit);
        Assert.NotEqual(SnpSampleTests.OracleDigest, result.Stdout.Trim());
    }

    [Fact]
    public void SnpFile_HasThePolicy_TheSampleImagesPages_TheMetadataPages_AndOneVpContextPerVcpu()
    {
        using var dir = new TempDir();
        var (path, _) = Build(dir, RepoPaths.LaunchSpec("snp-sample-2vcpu.yaml"));
        string text = CliRunner.Run("inspect", path).Stdout;
        Assert.Contains("IGVM_VHT_GUEST_POLICY  [sev-snp]  policy=0x30000", text, StringComparison.Ordinal);
        Assert.Contains("gpa=0xffff0000 fileOffset=", text, StringComparison.Ordinal);
        Assert.Contains("gpa=0x800000 fileOffset=0x0 flags=- dataType=normal", text, StringComparison.Ordinal); // SNP_SEC_MEM: a zero page
        Assert.Contains("dataType=secrets", text, StringComparison.Ordinal);
        Assert.Contains("dataType=cpuid", text, StringComparison.Ordinal);
        Assert.Contains("IGVM_VHT_VP_CONTEXT  [sev-snp]  gpa=0xfffffffff000 fileOffset=", text, StringComparison.Ordinal);
        Assert.Contains("vpIndex=0x1", text, StringComparison.Ordinal);
    }

    [Fact]
    public void SpecIdBlock_IsCarried_AndCheckedAtLaunchFinish()
    {
        using var dir = new TempDir();
        using var idKey = ECDsa.Create(ECCurve.NamedCurves.nistP384);
        using var authorKey = ECDsa.Create(ECCurve.NamedCurves.nistP384);
        byte[] block = new IdBlock(Convert.FromHexString(SnpSampleTests.OracleDigest), new byte[16], Enumerable.Repeat((byte)7, 16).ToArray(), 3, 0x30000).ToBytes();
        string spec = dir.Write("s.yaml", File.ReadAllText(RepoPaths.LaunchSpec("snp-sample.yaml"))
            .Replace("../samples", Path.Combine(RepoPaths.Root, "samples"), StringComparison.Ordinal)
            + $"  id-block: {Convert.ToBase64String(block)}\n  id-auth: {Convert.ToBase64String(IdAuth.Build(block, idKey, authorKey))}\n");
        var (path, build) = Build(dir, spec);
        Assert.True(build.Exit == 0, build.Stderr);

        var ok = CliRunner.Run("measure", path, "--platform", "snp", "--profile", NativeZero);
        Assert.Equal((0, SnpSampleTests.OracleDigest, string.Empty), (ok.Exit, ok.Stdout.Trim(), ok.Stderr));
        Assert.Contains("authorKeyEnabled=0x1", CliRunner.Run("inspect", path).Stdout, StringComparison.Ordinal);

        // Under the default reading the digest differs, so the block the file carries is refused.
        var refused = CliRunner.Run("measure", path, "--platform", "snp");
        Assert.Equal(2, refused.Exit);
        Assert.Contains("(IGVM_VHT_SNP_ID_BLOCK) at offset 0x", refused.Stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("default.yaml", "platform default has no IGVM form (snp and tdx do)")]
    [InlineData("sev.yaml", "platform sev has no IGVM form (snp and tdx do)")]
    [InlineData("tdx-two-pass.yaml", "an IGVM file cannot reproduce this launch's measurement: TDX section #0 (BFV) is measured two-pass")]
    public void SpecWithoutAnIgvmForm_IsExit2_AndWritesNothing(string spec, string message)
    {
        using var dir = new TempDir();
        var (path, result) = Build(dir, RepoPaths.LaunchSpec(spec));
        Assert.Equal((2, string.Empty), (result.Exit, result.Stdout));
        Assert.Contains(message, result.ErrorLine, StringComparison.Ordinal);
        Assert.False(File.Exists(path));
    }

    [Fact]
    public void UnknownAction_IsExit2()
    {
        var result = CliRunner.Run("igvm", "frob", RepoPaths.LaunchSpec("tdx.yaml"), "--out", "x.igvm");
        Assert.Equal((2, "cocolaunch: igvm: 'frob' is not an action; use 'igvm build SPEC --out FILE.igvm'"), (result.Exit, result.ErrorLine));
    }

    [Fact]
    public void Help_ShowsTheActionAndTheOutOption()
    {
        var result = CliRunner.Run("igvm", "--help");
        Assert.Equal(0, result.Exit);
        Assert.Contains("--out", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("ACTION", result.Stdout, StringComparison.Ordinal);
    }
}
