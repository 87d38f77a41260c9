using CocoLaunch.Tests.Shared;

namespace CocoLaunch.Cli.Tests;

/// <summary>
/// The sample's misbehaving variants (samples/tdx-4k/src/main.c, misbehave()): each ends with a clear reason and
/// the right exit status, never a host exception or a hang.
/// </summary>
public sealed class MisbehavingTdTests
{
    private static (string Spec, TempDir Dir) Spec(string scenario)
    {
        var dir = new TempDir();
        string image = Path.Combine(RepoPaths.Root, "samples", "tdx-4k", "bin", $"tdx-4k-{scenario}.fd");
        string spec = dir.Write("td.yaml", $"platform: tdx\nfirmware: {image}\nvcpus: 1\nmemory: 128M\ntdx:\n  attributes: 0x10000000\n  xfam: 0x602e7\n");
        return (spec, dir);
    }

    [Fact]
    public void MapGpaOutsideMemory_TheVmmRefuses_TheGuestSeesInvalidOperandAndCarriesOn()
    {
        var (spec, dir) = Spec("map-outside");
        using (dir)
        {
            var result = CliRunner.Run("launch", spec);
            Assert.Equal(0, result.Exit);
            // GHCI INVALID_OPERAND, and R11 = the start of the refused chunk as the guest passed it (shared bit set).
            Assert.Contains("tdx-4k: MapGPA outside memory: R10 0x8000000000000000, R11 0x0000800040000000\n", result.Stdout, StringComparison.Ordinal);
            Assert.EndsWith("tdx-4k: power off\n", result.Stdout, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void TouchingAnUnacceptedPage_KillsTheTd_Eio()
    {
        var (spec, dir) = Spec("unaccepted");
        using (dir)
        {
            var result = CliRunner.Run("launch", spec);
            Assert.Equal(1, result.Exit);
            Assert.EndsWith("tdx-4k: touching an unaccepted page\n", result.Stdout, StringComparison.Ordinal);
            // The stop names where the TD was: its RIP, and the exit it last came back from (the console write before).
            Assert.StartsWith($"cocolaunch: {spec}: the guest stopped without isa-debug-exit or power-off: KVM_RUN failed with EIO: the TD accessed private GPA 0x601000 before accepting it (vCPU 0 at RIP 0x", result.ErrorLine, StringComparison.Ordinal);
            Assert.Matches(@"\(vCPU 0 at RIP 0x[0-9a-f]+, last exit: io out port=0x[0-9a-f]+ size=1 data=[0-9a-f]{2}\)$", result.ErrorLine);
        }
    }

    [Fact]
    public void ConversionStorm_100000Conversions_AllServedAndZeroed()
    {
        var (spec, dir) = Spec("storm");
        using (dir)
        {
            var result = CliRunner.Run("launch", spec, "--stats");
            Assert.Equal(0, result.Exit);
            Assert.Contains("tdx-4k: 100000 conversions done\n", result.Stdout, StringComparison.Ordinal);
            Assert.Contains("exits: Hypercall 100005, ", result.Stderr, StringComparison.Ordinal);
            Assert.Contains("explicit to-shared 50006, to-private 50005", result.Stderr, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void TripleFault_IsAShutdownExitOne()
    {
        var (spec, dir) = Spec("triple-fault");
        using (dir)
        {
            var result = CliRunner.Run("launch", spec);
            Assert.Equal(1, result.Exit);
            Assert.Matches(@"guest shut down \(triple fault, or the guest program ended\) \(vCPU 0 at RIP 0x[0-9a-f]+(, last exit: [^)]+)?\)$", result.ErrorLine);
        }
    }

    [Theory]
    [InlineData("--max-instructions", "3000000", "instruction limit reached")]
    [InlineData("--timeout", "0.5", "timed out after 0.5 s")]
    public void InfiniteLoop_EndsAtTheLimit(string option, string value, string reason)
    {
        var (spec, dir) = Spec("spin");
        using (dir)
        {
            var result = CliRunner.Run("launch", spec, option, value);
            Assert.Equal(1, result.Exit);
            Assert.EndsWith("tdx-4k: spinning\n", result.Stdout, StringComparison.Ordinal);
            Assert.EndsWith(reason, result.ErrorLine, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void HostMemoryLimitBelowWhatTheLaunchPreFaults_NamesTheStepAndTheLimit()
    {
        var result = CliRunner.Run("launch", RepoPaths.LaunchSpec("sw-protected.yaml"), "--max-host-memory", "1M");
        Assert.Equal(2, result.Exit);
        Assert.StartsWith("cocolaunch: ", result.ErrorLine, StringComparison.Ordinal);
        Assert.EndsWith("step prefault: ENOMEM: host memory limit of 1 MiB reached (1048576 bytes in use) allocating page 256", result.ErrorLine, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--timeout", "0", "cocolaunch: --timeout: '0' is not a number of seconds in (0, 86400]")]
    [InlineData("--max-instructions", "0", "cocolaunch: --max-instructions: 0 is out of range (1..9223372036854775807)")]
    [InlineData("--conversion", "magic", "cocolaunch: --conversion: 'magic' is not one of: in-place, attributes-discard, attributes")]
    [InlineData("--max-host-memory", "lots", "cocolaunch: --max-host-memory: 'lots' is not a size of whole 4 KiB pages (e.g. 512M)")]
    public void BadRunArgument_ExitsTwo(string option, string value, string expected)
    {
        var result = CliRunner.Run("launch", RepoPaths.LaunchSpec("tdx-4k-sample.yaml"), option, value);
        Assert.Equal((2, expected), (result.Exit, result.ErrorLine));
    }
}
