using CocoLaunch.Tests.Shared;

namespace CocoLaunch.Cli.Tests;

/// <summary>
/// A spec whose firmware is an IGVM file (<c>firmware: {igvm: FILE}</c>): the sample guests packaged by
/// <c>igvm build</c> boot from the file to exactly the console output and exit code of their own specs, and the
/// spec measures as the file does under QEMU's loader (SNP zero pages as ZERO pages: igvm-native-zero).
/// </summary>
public sealed class IgvmLaunchTests
{
    /// <summary>The sample spec, and the same guest's spec with the built file as its firmware (policy, memory and TD attributes are the spec's).</summary>
    public static TheoryData<string, string, string> Samples => new()
    {
        { "snp-sample", "snp", SnpSpec },
        { "tdx-4k-sample", "tdx", TdxSpec },
        { "snp-sample-2vcpu", "snp", SnpSpec.Replace("vcpus: 1", "vcpus: 2", StringComparison.Ordinal) },
    };

    private const string SnpSpec = "platform: snp\nfirmware: {igvm: guest.igvm}\nvcpus: 1\nmemory: 128M\nsnp:\n  policy: 0x30000\n";

    private const string TdxSpec = "platform: tdx\nfirmware:\n  igvm: guest.igvm\nvcpus: 1\nmemory: 128M\ntdx:\n  attributes: 0x10000000\n  xfam: 0x602e7\n";

    private static string BuildSpec(TempDir dir, string sample, string yaml)
    {
        var build = CliRunner.Run("igvm", "build", RepoPaths.LaunchSpec(sample + ".yaml"), "--out", Path.Combine(dir.Path, "guest.igvm"));
        Assert.True(build.Exit == 0, build.Stderr);
        string spec = Path.Combine(dir.Path, "guest.yaml");
        File.WriteAllText(spec, yaml);
        return spec;
    }

    private static void Exit2(CliResult result, string message)
    {
        Assert.Equal(2, result.Exit);
        Assert.Contains(message, result.Stderr, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Samples))]
    public void SampleBuiltAsIgvm_BootsToTheSameOutput_AndMeasuresAsTheFile(string sample, string platform, string yaml)
    {
        using var dir = new TempDir();
        string spec = BuildSpec(dir, sample, yaml);

        var reference = CliRunner.Run("launch", RepoPaths.LaunchSpec(sample + ".yaml"));
        var fromIgvm = CliRunner.Run("launch", spec);
        Assert.Equal((reference.Exit, reference.Stdout, reference.Stderr), (fromIgvm.Exit, fromIgvm.Stdout, fromIgvm.Stderr));
        Assert.Equal(0, fromIgvm.Exit);
        Assert.Contains("power off", fromIgvm.Stdout, StringComparison.Ordinal);

        string[] measureFile = platform == "snp"
            ? ["measure", Path.Combine(dir.Path, "guest.igvm"), "--platform", "snp", "--profile", "igvm-native-zero"]
            : ["measure", Path.Combine(dir.Path, "guest.igvm"), "--platform", "tdx"];
        string digest = CliRunner.Run("measure", RepoPaths.LaunchSpec(sample + ".yaml")).Stdout;
        Assert.Equal(digest, CliRunner.Run("measure", spec).Stdout);
        Assert.Equal(digest, CliRunner.Run(measureFile).Stdout);

        var valid = CliRunner.Run("validate", spec);
        Assert.Equal(0, valid.Exit);
        Assert.Contains("firmware guest.igvm (IGVM, ", valid.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_TheTdxFile_NamesTheTdHobItFound()
    {
        using var dir = new TempDir();
        string spec = BuildSpec(dir, "tdx-4k-sample", TdxSpec);
        Assert.Contains(", TD HOB at 0x809000)", CliRunner.Run("validate", spec).Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_LessMemoryThanTheTdHobDescribes_IsExit2()
    {
        using var dir = new TempDir();
        string spec = BuildSpec(dir, "tdx-4k-sample", TdxSpec.Replace("memory: 128M", "memory: 64M", StringComparison.Ordinal));
        Exit2(CliRunner.Run("validate", spec), "memory: the TD HOB in guest.igvm (at 0x809000) describes RAM [0x");
    }

    [Fact]
    public void Validate_FileWithoutThePlatform_IsExit2()
    {
        using var dir = new TempDir();
        BuildSpec(dir, "snp-sample", string.Empty);
        string spec = Path.Combine(dir.Path, "tdx.yaml");
        File.WriteAllText(spec, "platform: tdx\nfirmware: {igvm: guest.igvm}\nmemory: 128M\n");
        Exit2(CliRunner.Run("validate", spec), "firmware.igvm: guest.igvm: the file has no tdx platform (it declares: sev-snp)");
    }

    [Fact]
    public void Validate_MalformedFile_IsExit2_NamingTheHeaderAndOffset()
    {
        using var dir = new TempDir();
        string spec = BuildSpec(dir, "snp-sample", "platform: snp\nfirmware: {igvm: guest.igvm}\nmemory: 128M\n");
        string file = Path.Combine(dir.Path, "guest.igvm");
        byte[] bytes = File.ReadAllBytes(file);
        bytes[4] = 0xFF; // the fixed header's format version
        File.WriteAllBytes(file, bytes);
        Exit2(CliRunner.Run("validate", spec), "guest.yaml:2:18: firmware.igvm: guest.igvm: fixed header at offset 0x4: format version 255");
    }

    [Theory]
    [InlineData("platform: snp\nfirmware: {igvm: guest.igvm}\nmemory: 128M\nsnp:\n  vcpu-type: EPYC-v4\n", "snp.vcpu-type: given with firmware.igvm, whose file decides it")]
    [InlineData("platform: snp\nfirmware: {igvm: guest.igvm, vars: guest.igvm}\nmemory: 128M\n", "firmware.vars: given with firmware.igvm")]
    [InlineData("platform: sev\nfirmware: {igvm: guest.igvm}\nmemory: 128M\n", "firmware.igvm: only platforms snp and tdx launch from an IGVM file")]
    [InlineData("platform: snp\nfirmware: {igvm: guest.igvm}\nmemory: 128M\nsnp:\n  policy: 0xb0000\n", "the file's IGVM_VHT_GUEST_POLICY is 0x30000 but the spec's SNP policy is 0xb0000")]
    public void Spec_ContradictingTheFile_IsExit2(string yaml, string message)
    {
        using var dir = new TempDir();
        string spec = BuildSpec(dir, "snp-sample", yaml);
        Exit2(CliRunner.Run("validate", spec), message);
    }

    [Fact]
    public void Inspect_OfAnIgvmSpec_IsInspectOfTheFile()
    {
        using var dir = new TempDir();
        string spec = BuildSpec(dir, "snp-sample", SnpSpec);
        string file = Path.Combine(dir.Path, "guest.igvm");
        var fromSpec = CliRunner.Run("inspect", spec);
        Assert.Equal(0, fromSpec.Exit);
        Assert.Equal(CliRunner.Run("inspect", file).Stdout, fromSpec.Stdout);
    }

    [Fact]
    public void IgvmBuild_OfAnIgvmSpec_IsExit2()
    {
        using var dir = new TempDir();
        string spec = BuildSpec(dir, "snp-sample", "platform: snp\nfirmware: {igvm: guest.igvm}\nmemory: 128M\n");
        Exit2(CliRunner.Run("igvm", "build", spec, "--out", Path.Combine(dir.Path, "again.igvm")), "the firmware is already an IGVM file");
    }
}
