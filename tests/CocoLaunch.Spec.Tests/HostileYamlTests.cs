using System.Diagnostics;
using System.Text;

namespace CocoLaunch.Spec.Tests;

/// <summary>
/// Specs built to hurt the YAML reader: each is a <see cref="SpecException"/> naming line and column, in bounded
/// time and stack — never a stack overflow (which no catch can handle), a hang, or YamlDotNet's own exception types.
/// </summary>
public sealed class HostileYamlTests
{
    private static SpecException Refused(string yaml) =>
        Assert.Throws<SpecException>(() => LaunchSpecParser.Parse(yaml, "t.yaml", "."));

    [Fact]
    public void Parse_FlowSequence50000Deep_IsRefusedAtTheLimit()
    {
        var e = Refused("platform: " + new string('[', 50_000) + "\n");
        Assert.Equal((1L, 42L), (e.Line, e.Column)); // the root mapping is level 1, so the 32nd bracket is level 33
        Assert.StartsWith("the spec nests lists and mappings more than 32 levels deep", e.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_BlockMappings40Deep_IsRefused()
    {
        var yaml = new StringBuilder("platform: tdx\nmemory:\n");
        for (int i = 0; i < 40; i++)
        {
            yaml.Append(' ', 2 * (i + 1)).Append("k").Append(i).Append(":\n");
        }

        var e = Refused(yaml.ToString());
        Assert.StartsWith("the spec nests lists and mappings more than 32 levels deep", e.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_BillionLaughsKey_IsRefusedQuickly()
    {
        var yaml = new StringBuilder("a0: &a0 [x, x]\n");
        for (int i = 1; i < 40; i++)
        {
            yaml.Append($"a{i}: &a{i} [*a{i - 1}, *a{i - 1}]\n");
        }

        yaml.Append("? *a39\n: 1\n");
        var clock = Stopwatch.StartNew();
        var e = Refused(yaml.ToString());
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"took {clock.Elapsed}");
        Assert.Equal((2L, 10L), (e.Line, e.Column));
        Assert.Equal("YAML aliases (*a0) are not supported in a launch spec; write the value out", e.Problem);
    }

    [Fact]
    public void Parse_SelfReferencingAlias_IsRefused()
    {
        var e = Refused("platform: &p [*p]\n");
        Assert.StartsWith("YAML aliases (*p) are not supported", e.Problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("platform: tdx\nfirmware: x\n[kd%@Evrv;1MDY$d1(s:p{['7nI/AJ3bxc-U'I~K\nmemory: 2G\n")]
    [InlineData("platform: tdx\n2i)A0`Z]tQ;-_$RXn!zZC}>l.I$#$tf\"Qx<W}$d=Y`g>M>w=[F#Vhs-8q}F0\n")]
    public void Parse_LineOfGarbage_IsAYamlSyntaxError(string yaml)
    {
        var e = Refused(yaml);
        Assert.True(e.Line >= 2, $"line {e.Line}");
        Assert.StartsWith("YAML syntax error: ", e.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_ManyNodes_IsRefusedAtTheNodeLimit()
    {
        var e = Refused("platform: [" + string.Join(",", Enumerable.Repeat("x", 120_000)) + "]\n");
        Assert.StartsWith("the spec has more than 100000 YAML nodes", e.Problem, StringComparison.Ordinal);
    }
}
