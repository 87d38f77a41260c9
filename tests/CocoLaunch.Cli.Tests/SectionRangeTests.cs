using CocoLaunch.Tests.Shared;

namespace CocoLaunch.Cli.Tests;

/// <summary>
/// Firmware metadata sections at GPAs no guest can have: refused with exit 2 by validate, measure and launch, naming
/// the section (index, type) and its GPA range, instead of an internal error deep in the launch.
/// </summary>
public sealed class SectionRangeTests
{
    private const int Size = 0x10000;
    private const ulong Top = 0x1_0000_0000;

    private static string Spec(TempDir dir, ulong hobGpa)
    {
        byte[] image = new OvmfImageBuilder(Size).Tdvf(0x800,
        [
            new TdvfEntry(0x8000, 0x4000, Top - Size + 0x8000, 0x4000, 0, 1),
            new TdvfEntry(0, 0, hobGpa, 0x2000, 2, 0),
            new TdvfEntry(0, 0, 0x80_0000, 0x6000, 3, 0),
        ]).Build();
        string fw = dir.Write("fw.fd", image);
        return dir.Write("s.yaml", $"platform: tdx\nfirmware: {fw}\nmemory: 1G\n");
    }

    [Theory]
    [InlineData("validate")]
    [InlineData("measure")]
    [InlineData("launch")]
    public void TdHobAboveTheAddressSpace_ExitsTwoNamingTheSection(string verb)
    {
        using var dir = new TempDir();
        string spec = Spec(dir, 0x8000_0000_0000_0000);

        var result = CliRunner.Run(verb, spec);

        Assert.Equal(2, result.Exit);
        Assert.StartsWith($"cocolaunch: {spec}:2:11: firmware: {dir.Path}/fw.fd: offset 0x", result.ErrorLine, StringComparison.Ordinal);
        Assert.EndsWith(": TDX section #1 (TD_HOB) GPA range [0x8000000000000000,0x8000000000002000) lies beyond the 52-bit guest-physical address space (MAXPHYADDR 52 ends at 0x10000000000000)", result.ErrorLine, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("validate", "{SPEC}:2:11: firmware: ")]
    [InlineData("measure", "{SPEC}: ")]
    [InlineData("launch", "{SPEC}: ")]
    public void TdHobBeyondGuestRam_ExitsTwoNamingTheSection(string verb, string prefix)
    {
        using var dir = new TempDir();
        string spec = Spec(dir, 0xbf_0080_0000);

        var result = CliRunner.Run(verb, spec);

        Assert.Equal((2, $"cocolaunch: {prefix.Replace("{SPEC}", spec, StringComparison.Ordinal)}TDX section #1 (TD_HOB) at GPA [0xbf00800000,0xbf00802000) lies outside guest RAM ([0x0,0x40000000)); give more memory or fix the firmware's metadata"),
            (result.Exit, result.ErrorLine));
    }

    [Fact]
    public void Measure_PlatformWithoutMeasurement_ExitsTwo()
    {
        var result = CliRunner.Run("measure", "--platform", "default", "--firmware", RepoPaths.OvmfFd);
        Assert.Equal((2, "cocolaunch: --platform default: platform default has no launch measurement"), (result.Exit, result.ErrorLine));
    }
}
