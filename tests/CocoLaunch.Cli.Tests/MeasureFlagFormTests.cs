using CocoLaunch.Tests.Shared;

namespace CocoLaunch.Cli.Tests;

/// <summary>measure's flag form is TDX only; other platforms are pointed at the form that has their options.</summary>
public sealed class MeasureFlagFormTests
{
    [Theory]
    [InlineData("snp", "snp")]
    [InlineData("sev-es", "seves")]
    [InlineData("sev", "sev")]
    public void Measure_NonTdxPlatformWithFirmware_ExitsTwoNamingTheRightForm(string platform, string mode)
    {
        var result = CliRunner.Run("measure", "--platform", platform, "--firmware", RepoPaths.OvmfFd);

        Assert.Equal((2, $"cocolaunch: --platform {platform}: the --platform/--firmware form measures tdx only; for {platform} use --mode {mode} --ovmf FILE --vcpu-type TYPE (sev-snp-measure's options) or a spec"),
            (result.Exit, result.ErrorLine));
    }
}
