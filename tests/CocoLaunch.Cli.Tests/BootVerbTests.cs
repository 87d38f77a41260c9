using CocoLaunch.Tests.Shared;

namespace CocoLaunch.Cli.Tests;

/// <summary>cocolaunch boot: stdout is the guest's console byte for byte, the exit status is isa-debug-exit's.</summary>
public sealed class BootVerbTests
{
    private static string Guest(string name) => Path.Combine(RepoPaths.Root, "guests", "bin", name);

    private static string Expected(string name) => File.ReadAllText(Path.Combine(RepoPaths.Root, "guests", "expected", name));

    [Theory]
    [InlineData("legacy")]
    [InlineData("tdx")]
    public void Boot_Hello_PrintsDebugconThenCom1AndExitsWithTheGuestsStatus(string reset)
    {
        var result = CliRunner.Run("boot", Guest("hello-sse-4k.bin"), "--memory", "8M", "--reset", reset);
        // QEMU's isa-debug-exit: (0x10 << 1) | 1. Both devices write to stdout: debugcon first, then COM1.
        Assert.Equal((33, Expected("hello.txt") + Expected("hello.txt"), string.Empty), (result.Exit, result.Stdout, result.Stderr));
    }

    [Fact]
    public void Boot_Bench_PrintsTheNativeResults()
    {
        var result = CliRunner.Run("boot", Guest("bench-gpr-2m.bin"), "--memory", "8M");
        Assert.Equal((35, Expected("bench.txt")), (result.Exit, result.Stdout));
    }

    [Fact]
    public void Boot_Stats_GoToStderrOnly()
    {
        var result = CliRunner.Run("boot", Guest("hello-gpr-2m.bin"), "--memory", "8M", "--stats");
        Assert.Equal(Expected("hello.txt") + Expected("hello.txt"), result.Stdout);
        // The run, then the CPU's counters (how much ran compiled, decoded, chained, flushed).
        string[] lines = result.Stderr.TrimEnd().Split('\n');
        Assert.InRange(lines.Length, 2, 3); // a third line names the forms handed to the interpreter, if any were
        Assert.Matches(@"^cocolaunch: \d+ instructions in \d+\.\d{3} s: \d+\.\d MIPS$", lines[0].TrimEnd('\r'));
        Assert.Matches(@"^cocolaunch: \d+\.\d % compiled \(\d+ handed from compiled blocks to the interpreter\); \d+ blocks decoded, \d+ compiled; \d+ block runs chained; \d+ code-page writes; \d+ block-cache drops; \d+ TLB flushes$", lines[1].TrimEnd('\r'));
        Assert.All(lines.Skip(2), l => Assert.Matches(@"^cocolaunch: forms compiled blocks hand to the interpreter most: (\w+ \d+(, )?)+$", l.TrimEnd('\r')));
    }

    [Fact]
    public void Boot_InstructionLimit_ExitsOneNamingTheStop()
    {
        var result = CliRunner.Run("boot", Guest("bench-gpr-2m.bin"), "--memory", "8M", "--max-instructions", "100000");
        Assert.Equal(1, result.Exit);
        Assert.EndsWith("bench-gpr-2m.bin: the guest stopped without isa-debug-exit: instruction limit reached", result.ErrorLine, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--memory", "1M", "cocolaunch: --memory: '1M' is not a whole number of pages from 2M to 1T (e.g. 128M)")]
    [InlineData("--reset", "snp", "cocolaunch: --reset: 'snp' is not one of: legacy, tdx")]
    [InlineData("--vcpus", "2", "cocolaunch: --vcpus: 2 is not supported by the boot harness yet (use 1)")]
    [InlineData("--max-instructions", "0", "cocolaunch: --max-instructions: 0 is out of range (1..9223372036854775807)")]
    public void Boot_BadArgument_ExitsTwo(string option, string value, string expected)
    {
        var result = CliRunner.Run("boot", Guest("hello-gpr-2m.bin"), option, value);
        Assert.Equal((2, expected), (result.Exit, result.ErrorLine));
    }

    [Fact]
    public void Boot_NotAFlatImage_ExitsTwo()
    {
        using var dir = new TempDir();
        string odd = dir.Write("odd.bin", "not a multiple of 4 KiB");
        var result = CliRunner.Run("boot", odd);
        Assert.Equal((2, $"cocolaunch: {odd}: 23 bytes is not a flat image of whole 4 KiB pages up to 16 MiB"), (result.Exit, result.ErrorLine));
        var missing = CliRunner.Run("boot", Path.Combine(dir.Path, "absent.bin"));
        Assert.Equal(2, missing.Exit);
        Assert.EndsWith("absent.bin: no such firmware file", missing.ErrorLine, StringComparison.Ordinal);
    }

    [Fact]
    public void Boot_GuestThatTripleFaults_ExitsOne()
    {
        using var dir = new TempDir();
        // All zeros: the reset vector executes ADD [BX+SI], AL into ROM, then runs off the end of the image.
        string zeros = Path.Combine(dir.Path, "zeros.bin");
        File.WriteAllBytes(zeros, new byte[4096]);
        var result = CliRunner.Run("boot", zeros, "--memory", "2M", "--max-instructions", "1000000");
        Assert.Equal(1, result.Exit);
        Assert.Contains("the guest stopped without isa-debug-exit", result.ErrorLine, StringComparison.Ordinal);
    }
}
