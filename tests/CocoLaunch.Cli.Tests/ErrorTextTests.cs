using CocoLaunch.Tests.Shared;

namespace CocoLaunch.Cli.Tests;

/// <summary>Error lines echo user values; the central filter keeps them one short line that cannot drive the terminal.</summary>
public sealed class ErrorTextTests
{
    [Theory]
    [InlineData("a\nb", "a\\nb")]
    [InlineData("a\r\nb\tc", "a\\r\\nb\\tc")]
    [InlineData("\u001b[31mred\u001b[0m", "\\x1b[31mred\\x1b[0m")]
    [InlineData("bell\u0007 del\u007f csi\u009b", "bell\\x07 del\\x7f csi\\u009b")]
    [InlineData("rtl\u202Eevil", "rtl\\u202eevil")]
    [InlineData("plain text, ünïcode kept", "plain text, ünïcode kept")]
    public void Sanitize_EscapesControlCharacters(string message, string expected) =>
        Assert.Equal(expected, ErrorText.Sanitize(message));

    [Fact]
    public void Sanitize_LongValue_IsCutWithItsLength()
    {
        string value = new('v', 10_000_000);
        string line = ErrorText.Sanitize($"--reset: '{value}' is not one of: legacy, tdx");
        Assert.Equal($"--reset: '{new string('v', 199)}… (10000002 characters) is not one of: legacy, tdx", line);
    }

    [Fact]
    public void Sanitize_ManyShortWords_CapsTheLine()
    {
        string line = ErrorText.Sanitize(string.Join(' ', Enumerable.Repeat("word", 100_000)));
        Assert.True(line.Length < ErrorText.MaxLine + 100, $"{line.Length} characters");
        Assert.EndsWith("characters)", line, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_ValueWithEscapeAndNewline_PrintsOneEscapedLine()
    {
        using var dir = new TempDir();
        string spec = dir.Write("ansi.yaml", "platform: \"\\e[2J\\nforged: line\"\nfirmware: x\nmemory: 1G\n");

        var result = CliRunner.Run("validate", spec);

        Assert.Equal(2, result.Exit);
        Assert.Equal($"cocolaunch: {spec}:1:11: platform: '\\x1b[2J\\nforged: line' is not one of: tdx, snp, sev-es, sev, sw-protected, default", result.ErrorLine);
    }

    [Fact]
    public void Boot_HugeOptionValue_PrintsAShortLine()
    {
        var result = CliRunner.Run("boot", "x.bin", "--reset", new string('r', 1_000_000));

        Assert.Equal(2, result.Exit);
        Assert.Equal($"cocolaunch: --reset: '{new string('r', 199)}… (1000002 characters) is not one of: legacy, tdx", result.ErrorLine);
    }
}
