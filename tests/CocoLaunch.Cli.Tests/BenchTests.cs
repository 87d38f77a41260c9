namespace CocoLaunch.Cli.Tests;

/// <summary>The bench verb's harness: it must fault in exactly the guest it claims (timings are not asserted).</summary>
public sealed class BenchTests
{
    [Fact]
    public void Bench_SmallGuest_ReportsExactLeafCountsPerScenario()
    {
        var result = CliRunner.Run("bench", "--suite", "prefault", "--size", "1G", "--large", "2G", "--repeat", "1", "--warmup", "0");
        Assert.Equal((0, string.Empty), (result.Exit, result.Stderr));
        string[] rows = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(8, rows.Length); // header + 3 backings x {1, 2} vCPUs + the large guest
        Assert.Matches(@"^private guest_memfd, 4K \(TDX-style\)\s+1 GiB\s+1\s+262144\s+0\s+0\s", rows[1]);
        Assert.Matches(@"^private guest_memfd, 4K \(TDX-style\)\s+1 GiB\s+2\s+262144\s+0\s+0\s", rows[2]);
        Assert.Matches(@"^DEFAULT, THP 2M\s+1 GiB\s+1\s+0\s+512\s+0\s", rows[3]);
        Assert.Matches(@"^DEFAULT, hugetlb 1G\s+1 GiB\s+2\s+0\s+0\s+1\s", rows[6]);
        Assert.Matches(@"^DEFAULT, hugetlb 1G\s+2 GiB\s+1\s+0\s+0\s+2\s", rows[7]);
    }

    [Fact]
    public void BenchMrtd_HashesExactlyWhatTheLaunchMeasures()
    {
        var result = CliRunner.Run("bench", "--suite", "mrtd", "--repeat", "1", "--warmup", "0");
        Assert.Equal((0, string.Empty), (result.Exit, result.Stderr));
        string[] rows = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(5, rows.Length);
        Assert.Matches(@"^OVMF\.fd\s+hash on 2nd core\s+3017984\s", rows[1]); // tdx-mrtd.md §2: 3,017,984 hashed bytes
        Assert.Matches(@"^synthetic 64 MiB BFV\s+hash on 2nd core\s+102761472\s", rows[2]); // 16384 x (128 + 16 x 384) + 8 x 128
        // SNP twice, pages hashed on two cores and on one thread: the same bytes either way.
        Assert.Matches(@"^SNP OVMF_CODE\.fd, 64 vCPUs\s+pages on 2 cores\s+2292624\s", rows[3]); // (480 + 64) x (4096 + 112) + 31 x 112
        Assert.Matches(@"^SNP OVMF_CODE\.fd, 64 vCPUs\s+one thread\s+2292624\s", rows[4]);
    }

    [Theory]
    [InlineData("--size", "3M", "cocolaunch: --size: '3M' is not a whole number of GiB up to 1 PiB (e.g. 64G)")]
    [InlineData("--threads", "0", "cocolaunch: --threads: 0 is out of range (1..64)")]
    [InlineData("--repeat", "0", "cocolaunch: --repeat: 0 is out of range (1..100)")]
    [InlineData("--large", "1.5G", "cocolaunch: --large: '1.5G' is not a whole number of GiB up to 1 PiB (e.g. 64G)")]
    [InlineData("--warmup", "-1", "cocolaunch: --warmup: -1 is out of range (0..1000)")]
    [InlineData("--suite", "gpu", "cocolaunch: --suite: 'gpu' is not one of: all, prefault, mrtd, cpu, linux, soak")]
    // With the default suite (all), which would first run the CPU guests for minutes: arguments are checked before any suite runs.
    public void Bench_BadArgument_ExitsTwo(string option, string value, string expected)
    {
        var result = CliRunner.Run("bench", option, value);
        Assert.Equal((2, expected), (result.Exit, result.ErrorLine));
    }
}
