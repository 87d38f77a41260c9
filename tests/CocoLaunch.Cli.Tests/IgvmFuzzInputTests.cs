using CocoLaunch.Tests.Shared;

namespace CocoLaunch.Cli.Tests;

/// <summary>Inputs the igvm-crc fuzz target found (fuzz/README.md), replayed through the CLI as a user would run them.</summary>
public sealed class IgvmFuzzInputTests
{
    private static string Input(string name) => Path.Combine(RepoPaths.Root, "tests", "data", "fuzz", name);

    /// <summary>
    /// The SNP test file with its PARAMETER_AREA's size mutated to 0x2100001000 bytes (132 GiB): measure populated
    /// and measured the area page by page, and an in-process replay reached 23 GB before the OOM killer. Now the plan
    /// refuses the insert before the VM exists.
    /// </summary>
    [Fact]
    public void HugeParameterArea_IsExit2_NamingTheInsert_BeforeAnyPageIsLoaded()
    {
        string path = Input("igvm-parameter-area-132g.igvm");
        var result = CliRunner.Run("measure", path, "--platform", "snp");
        Assert.Equal((2, string.Empty), (result.Exit, result.Stdout));
        Assert.Equal(
            $"cocolaunch: {path}: igvm: header #4 (IGVM_VHT_PARAMETER_INSERT) at offset 0x70: its 0x2100001000 bytes take what the directives for sev-snp load past 1 GiB, the most an IGVM launch loads (as for a firmware or kernel file)",
            result.ErrorLine);
    }

    [Fact]
    public void HugeParameterArea_IsStillReadByInspect()
    {
        // The file breaks no rule of the format: only loading it is refused.
        var result = CliRunner.Run("inspect", Input("igvm-parameter-area-132g.igvm"));
        Assert.Equal(0, result.Exit);
        Assert.Contains("IGVM_VHT_PARAMETER_AREA  bytes=0x2100001000 parameterAreaIndex=0x0", result.Stdout, StringComparison.Ordinal);
    }
}
