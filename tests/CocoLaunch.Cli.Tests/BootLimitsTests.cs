using CocoLaunch.Tests.Shared;

namespace CocoLaunch.Cli.Tests;

/// <summary>boot's memory and run bounds: every accepted size boots, every other is refused naming the limit, and a guest that never exits stops at a finite default.</summary>
public sealed class BootLimitsTests
{
    private static string Hello => Path.Combine(RepoPaths.Root, "guests", "bin", "hello-gpr-2m.bin");

    private static string Expected => File.ReadAllText(Path.Combine(RepoPaths.Root, "guests", "expected", "hello.txt"));

    [Theory]
    [InlineData("2M")]
    [InlineData("3G")]
    [InlineData("4G")]
    [InlineData("64G")]
    [InlineData("1T")]
    public void Boot_AnyAcceptedMemorySize_BootsTheGuest(string memory)
    {
        var result = CliRunner.Run("boot", Hello, "--memory", memory);
        Assert.Equal((33, Expected + Expected, string.Empty), (result.Exit, result.Stdout, result.Stderr));
    }

    [Theory]
    [InlineData("1025G")]
    [InlineData("2T")]
    [InlineData("3G5")]
    public void Boot_MemoryOutsideTheLimits_ExitsTwoNamingThem(string memory)
    {
        var result = CliRunner.Run("boot", Hello, "--memory", memory);
        Assert.Equal((2, $"cocolaunch: --memory: '{memory}' is not a whole number of pages from 2M to 1T (e.g. 128M)"), (result.Exit, result.ErrorLine));
    }

    [Theory]
    [InlineData("--memory")]
    [InlineData("--memory", "--stats")]
    [InlineData("--timeout")]
    [InlineData("--max-instructions", "--memory", "8M")]
    public void Boot_OptionWithoutItsValue_ExitsTwo(params string[] options)
    {
        var result = CliRunner.Run(["boot", Hello, .. options]);
        Assert.Equal((2, $"cocolaunch: option {options[0]} needs a value (see 'cocolaunch boot --help')"), (result.Exit, result.ErrorLine));
        Assert.Equal(string.Empty, result.Stdout);
    }

    [Fact]
    public void Boot_ImageOfZeros_StopsAtTheTimeLimitNamingIt()
    {
        using var dir = new TempDir();
        string zeros = dir.Write("zeros.bin", new byte[64 << 10]);

        var result = CliRunner.Run("boot", zeros, "--timeout", "1.5");

        Assert.Equal((1, $"cocolaunch: {zeros}: the guest stopped without isa-debug-exit: time limit reached after 1.5 s"), (result.Exit, result.ErrorLine));
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-1")]
    [InlineData("86401")]
    [InlineData("soon")]
    public void Boot_BadTimeout_ExitsTwo(string timeout)
    {
        var result = CliRunner.Run("boot", Hello, "--timeout", timeout);
        Assert.Equal((2, $"cocolaunch: --timeout: '{timeout}' is not a number of seconds in (0, 86400]"), (result.Exit, result.ErrorLine));
    }

    [Fact]
    public void Boot_Help_ShowsAFiniteDefaultTimeout()
    {
        var result = CliRunner.Run("boot", "--help");
        Assert.Matches(@"--timeout\s+\(Default: 120\)", result.Stdout);
    }
}
