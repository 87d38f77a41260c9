using System.Text.Json;
using CocoLaunch.Tests.Shared;

namespace CocoLaunch.Cli.Tests;

/// <summary>`cocolaunch measure` for TDX: MRTD from the emulated launch against public and independently derived values.</summary>
public sealed class MeasureTests
{
    /// <summary>shared/vectors/public-check-values.tsv, row "tdx OVMF.fd": upstream QEMU+KVM single-pass.</summary>
    internal const string PublicMrtd = "4c7206f0f483c524f12c366c711e9049030a8d47c471ee5aa9c4999a08de4057fb887fed0744d5631a212967fb231c47";

    /// <summary>The Debian OVMF.fd sections, typed in from tdx-mrtd.md §5 (not parsed by product code).</summary>
    internal static ReferenceMrtd.Section[] DebianSections()
    {
        byte[] image = File.ReadAllBytes(RepoPaths.OvmfFd);
        return
        [
            new(0xFFE20000, 480, true, image[0x20000..0x200000]),
            new(0xFFE00000, 32, false, null),
            new(0x810000, 16, false, null),
            new(0x80B000, 2, false, null),
            new(0x809000, 2, false, null),
            new(0x800000, 6, false, null),
        ];
    }

    [Fact]
    public void ReferenceCalculator_ReproducesThePublicValue() => Assert.Equal(PublicMrtd, ReferenceMrtd.Compute(DebianSections()));

    [Theory]
    [InlineData("tdx.yaml")]
    [InlineData("tdx-split.yaml")]
    public void Measure_DebianSpec_EqualsThePublicMrtd(string spec)
    {
        var result = CliRunner.Run("measure", RepoPaths.LaunchSpec(spec));
        Assert.Equal((0, PublicMrtd + Environment.NewLine, string.Empty), (result.Exit, result.Stdout, result.Stderr));
    }

    [Fact]
    public void Measure_FlagFormCodePlusVars_EqualsThePublicMrtd()
    {
        var result = CliRunner.Run("measure", "--platform", "tdx", "--firmware", RepoPaths.OvmfCodeFd, "--vars", RepoPaths.OvmfVarsFd);
        Assert.Equal((0, PublicMrtd), (result.Exit, result.Stdout.Trim()));
    }

    [Fact]
    public void Measure_TwoPass_EqualsTheIndependentTwoPassValue()
    {
        string expected = ReferenceMrtd.Compute(DebianSections(), twoPass: true);
        var result = CliRunner.Run("measure", "--platform", "tdx", "--firmware", RepoPaths.OvmfFd, "--profile", "two-pass");
        Assert.Equal((0, expected), (result.Exit, result.Stdout.Trim()));
        Assert.NotEqual(PublicMrtd, expected);
    }

    [Fact]
    public void Measure_Json_CarriesProfileParamsAndCounts()
    {
        var result = CliRunner.Run("measure", RepoPaths.LaunchSpec("tdx.yaml"), "--output-format", "json");
        Assert.Equal(0, result.Exit);
        using var doc = JsonDocument.Parse(result.Stdout);
        var root = doc.RootElement;
        Assert.Equal(PublicMrtd, root.GetProperty("mrtd").GetString());
        Assert.Equal("single-pass", root.GetProperty("profile").GetProperty("order").GetString());
        Assert.Equal("0x0000000010000000", root.GetProperty("attributes").GetString());
        Assert.Equal("0x00000000000602e7", root.GetProperty("xfam").GetString());
        Assert.Equal(538, root.GetProperty("pageAdds").GetInt32()); // tdx-mrtd.md §2: 538 PAGE.ADDs,
        Assert.Equal(7680, root.GetProperty("mrExtends").GetInt32()); // 7,680 MR.EXTENDs,
        Assert.Equal(3_017_984, root.GetProperty("bytesHashed").GetInt64()); // 3,017,984 hashed bytes
    }

    [Fact]
    public void Measure_Json_Rtmr0LaunchEventsAreTheHobAndTheVarsFile()
    {
        var result = CliRunner.Run("measure", RepoPaths.LaunchSpec("tdx.yaml"), "--output-format", "json");
        using var doc = JsonDocument.Parse(result.Stdout);
        var root = doc.RootElement;
        var events = root.GetProperty("rtmr0LaunchEvents").EnumerateArray().ToList();
        Assert.Equal(["EV_EFI_HANDOFF_TABLES2", "EV_EFI_PLATFORM_FIRMWARE_BLOB2"], events.Select(e => e.GetProperty("type").GetString()));

        // The CFV digest of stock vars is SHA-384 of OVMF_VARS.fd (tdx-mrtd.md §6.4); OVMF.fd starts with those bytes.
        byte[] cfv = System.Security.Cryptography.SHA384.HashData(File.ReadAllBytes(RepoPaths.OvmfVarsFd));
        Assert.Equal(Convert.ToHexStringLower(cfv), events[1].GetProperty("digest").GetString());

        byte[] hob = Convert.FromHexString(events[0].GetProperty("digest").GetString()!);
        byte[] rtmr0 = System.Security.Cryptography.SHA384.HashData([.. new byte[48], .. hob]);
        rtmr0 = System.Security.Cryptography.SHA384.HashData([.. rtmr0, .. cfv]);
        Assert.Equal(Convert.ToHexStringLower(rtmr0), root.GetProperty("rtmr0AfterLaunchEvents").GetString());
        Assert.All(root.GetProperty("rtmrs").EnumerateArray(), r => Assert.Equal(new string('0', 96), r.GetString()));
    }

    [Fact]
    public void Measure_Base64_IsTheSameDigest()
    {
        var result = CliRunner.Run("measure", RepoPaths.LaunchSpec("tdx.yaml"), "--output-format", "base64");
        Assert.Equal(Convert.ToBase64String(Convert.FromHexString(PublicMrtd)), result.Stdout.Trim());
    }

    [Fact]
    public void Measure_Explain_OneLinePerOperationThenTheDigest()
    {
        var result = CliRunner.Run("measure", RepoPaths.LaunchSpec("tdx.yaml"), "--explain");
        string[] lines = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(538 + 7680 + 1, lines.Length);
        Assert.Equal("       0 MEM.PAGE.ADD  gpa=0x0000ffe20000 bytes=128  TDVF #0 BFV", lines[0]);
        Assert.Equal("       1 MR.EXTEND     gpa=0x0000ffe20000 bytes=384  TDVF #0 BFV", lines[1]);
        Assert.Equal("    8210 MEM.PAGE.ADD  gpa=0x000000809000 bytes=128  TDVF #4 TD_HOB", lines[8210]);
        Assert.Equal(PublicMrtd, lines[^1]);
    }

    [Fact]
    public void Measure_TdReport_WritesAVerifiableReportCarryingMrtdAndReportData()
    {
        using var dir = new TempDir();
        string file = Path.Combine(dir.Path, "report.bin");
        string reportData = string.Concat(Enumerable.Repeat("ab", 64));
        var result = CliRunner.Run("measure", RepoPaths.LaunchSpec("tdx.yaml"), "--tdreport", file, "--report-data", reportData);
        Assert.Equal(0, result.Exit);
        byte[] report = File.ReadAllBytes(file);
        Assert.True(Firmware.Tdx.TdReport.Verify(report));
        Assert.Equal(PublicMrtd, Convert.ToHexStringLower(report.AsSpan(0x210, 48)));
        Assert.Equal(reportData, Convert.ToHexStringLower(report.AsSpan(0x80, 64)));
    }

    [Fact]
    public void Measure_ShortReportData_ExitsTwo()
    {
        var result = CliRunner.Run("measure", RepoPaths.LaunchSpec("tdx.yaml"), "--tdreport", "/tmp/x.bin", "--report-data", "abcd");
        Assert.Equal((2, "cocolaunch: --report-data: expected 64 bytes as 128 hex digits, got 4 characters"), (result.Exit, result.ErrorLine));
    }

    [Fact]
    public void Diff_SinglePassAgainstTwoPass_NamesOperationOne()
    {
        var result = CliRunner.Run("diff", RepoPaths.LaunchSpec("tdx.yaml"), RepoPaths.LaunchSpec("tdx-two-pass.yaml"));
        Assert.Equal(1, result.Exit);
        Assert.Equal(
            [
                "first divergence at operation 1 (A has 8218, B has 8218):",
                "  A:        1 MR.EXTEND     gpa=0x0000ffe20000 bytes=384  TDVF #0 BFV",
                "  B:        1 MEM.PAGE.ADD  gpa=0x0000ffe21000 bytes=128  TDVF #0 BFV",
            ],
            result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public void Diff_ExplainLogAgainstEquivalentSpec_Identical()
    {
        using var dir = new TempDir();
        string log = dir.Write("a.log", CliRunner.Run("measure", RepoPaths.LaunchSpec("tdx.yaml"), "--explain").Stdout);
        var result = CliRunner.Run("diff", log, RepoPaths.LaunchSpec("tdx-split.yaml"));
        Assert.Equal((0, "identical: 8218 measured operations"), (result.Exit, result.Stdout.Trim()));
    }

    [Fact]
    public void Diff_GarbledLog_ExitsTwoNamingTheLine()
    {
        using var dir = new TempDir();
        string log = dir.Write("bad.log", "       0 MEM.PAGE.ADD  gpa=0x0000ffe20000 bytes=128  TDVF #0 BFV\nhello\n");
        var result = CliRunner.Run("diff", log, log);
        Assert.Equal((2, $"cocolaunch: {log}:2: not a line of 'measure --explain' output"), (result.Exit, result.ErrorLine));
    }

    [Fact]
    public void Measure_CodeOnlyWithoutVars_ExitsTwoNamingTheSection()
    {
        var result = CliRunner.Run("measure", "--platform", "tdx", "--firmware", RepoPaths.OvmfCodeFd);
        Assert.Equal(2, result.Exit);
        Assert.Contains("TDX section #0 (BFV) data [0x20000,0x200000) lies beyond the end of the file", result.ErrorLine, StringComparison.Ordinal);
    }
}
