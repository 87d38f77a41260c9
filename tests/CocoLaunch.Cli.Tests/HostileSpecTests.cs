using CocoLaunch.Tests.Shared;

namespace CocoLaunch.Cli.Tests;

/// <summary>Specs that used to crash or hang the process now fail `validate` with exit 2 and one located line.</summary>
public sealed class HostileSpecTests
{
    [Fact]
    public void Validate_DeepFlowSequence_ExitsTwoInsteadOfOverflowingTheStack()
    {
        using var dir = new TempDir();
        string spec = dir.Write("deep.yaml", "platform: " + new string('[', 50_000) + "\n");

        var result = CliRunner.Run("validate", spec);

        Assert.Equal((2, $"cocolaunch: {spec}:1:42: the spec nests lists and mappings more than 32 levels deep"), (result.Exit, result.ErrorLine));
    }

    [Fact]
    public void Validate_LineOfGarbage_ExitsTwoWithASyntaxError()
    {
        using var dir = new TempDir();
        string spec = dir.Write("garbage.yaml", "platform: tdx\nfirmware: x\n[kd%@Evrv;1MDY$d1(s:p{['7nI/AJ3bxc-U'I~K\nmemory: 2G\n");

        var result = CliRunner.Run("validate", spec);

        Assert.Equal(2, result.Exit);
        Assert.StartsWith($"cocolaunch: {spec}:4:1: YAML syntax error: ", result.ErrorLine, StringComparison.Ordinal);
    }
}
