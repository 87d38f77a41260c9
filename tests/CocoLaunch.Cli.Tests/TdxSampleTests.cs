using System.Security.Cryptography;
using CocoLaunch.Tests.Shared;

namespace CocoLaunch.Cli.Tests;

/// <summary>
/// The TDX-only-4K sample (samples/tdx-4k) boots through <c>cocolaunch launch</c>: it accepts its memory at 4K,
/// converts explicitly and implicitly in both directions, and prints the MRTD of its own TDREPORT, which must be
/// what <c>measure</c> computes and what an independent calculator gives for the same image.
/// </summary>
public sealed class TdxSampleTests
{
    private static string Spec => RepoPaths.LaunchSpec("tdx-4k-sample.yaml");

    private static string Image => Path.Combine(RepoPaths.Root, "samples", "tdx-4k", "bin", "tdx-4k.fd");

    [Fact]
    public void Launch_PrintsItsOwnMrtd_EqualToMeasureAndTheReference_AndPowersOff()
    {
        var result = CliRunner.Run("launch", Spec);
        string measured = CliRunner.Run("measure", Spec).Stdout.Trim();

        // Independent: tdx-mrtd.md §2 over the image's three TDVF sections, in metadata order.
        string reference = ReferenceMrtd.Compute(
        [
            new(0xFFFF_0000, 16, true, File.ReadAllBytes(Image)),
            new(0x80_0000, 8, false, null),
            new(0x80_9000, 2, false, null),
        ]);
        // RTMR[2] after one extend with bytes 0..47 from zero: SHA-384(0^48 || 00 01 .. 2f).
        string rtmr2 = Convert.ToHexStringLower(SHA384.HashData([.. new byte[48], .. Enumerable.Range(0, 48).Select(i => (byte)i)]));

        Assert.Equal(reference, measured);
        Assert.Equal(0, result.Exit);
        Assert.Equal(
            $"""
            tdx-4k: TD started
            tdx-4k: GPAW 0x30, attributes 0x0000000010000000, vcpus 0x01
            tdx-4k: accepted 0x0200 pages at 4K (2M accepts: size mismatch)
            tdx-4k: MapGPA to shared: hello from shared memory
            tdx-4k: implicit to-shared: read 0x00
            tdx-4k: implicit to-private: accepted a shared page, reads 0x00
            tdx-4k: MapGPA to private, accepted 0x0004 pages, sum 0x0000
            tdx-4k: MRTD {measured}
            tdx-4k: RTMR2 {rtmr2}
            tdx-4k: GetQuote: status 0xffffffffffffffff (in flight)
            tdx-4k: the quote buffer is private again
            tdx-4k: power off

            """.Replace("\r\n", "\n", StringComparison.Ordinal),
            result.Stdout);
        Assert.Equal(string.Empty, result.Stderr);
    }

    [Fact]
    public void HugeGuestMemfdPages_TdxStillMapsPrivateMemoryAt4K_SameRunAsUpstream()
    {
        var upstream = CliRunner.Run("launch", Spec, "--stats");
        var huge = CliRunner.Run("launch", RepoPaths.LaunchSpec("tdx-4k-sample-2m.yaml"), "--stats");
        Assert.Equal(0, huge.Exit);
        Assert.Equal(upstream.Stdout, huge.Stdout);
        Assert.Contains("pages_4k: 32784\npages_2m: 0\npages_1g: 0", huge.Stderr, StringComparison.Ordinal);
        Assert.Contains("pages accepted or validated: 518\n", huge.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Launch_TraceShowsExplicitAndImplicitConversions_AndTheEagainRetry_StatsCountThem()
    {
        var result = CliRunner.Run("launch", Spec, "--trace-exits", "--stats");
        Assert.Equal(0, result.Exit);
        string[] conversions = [.. result.Stderr.Split('\n').Where(l => l.Contains("hypercall", StringComparison.Ordinal)
            || l.Contains("memory_fault", StringComparison.Ordinal) || l.Contains("EAGAIN (", StringComparison.Ordinal) || l.Contains("get_quote", StringComparison.Ordinal))];
        Assert.Equal(
        [
            "vcpu0 hypercall nr=12 gpa=0x210000 pages=4 to=shared",
            "vcpu0 memory_fault gpa=0x220000 size=0x1000 shared (EFAULT)",
            "vcpu0 hypercall nr=12 gpa=0x500000 pages=1 to=shared",
            "vcpu0 memory_fault gpa=0x500000 size=0x1000 private (EFAULT)",
            "vcpu0 hypercall nr=12 gpa=0x210000 pages=4 to=private",
            "vcpu0 hypercall nr=12 gpa=0x230000 pages=1 to=shared",
            "vcpu0 tdx get_quote gpa=0x230000 size=0x1000",
            "vcpu0 hypercall nr=12 gpa=0x230000 pages=1 to=private",
            // In place (the default), the VMM's hold on the quote buffer makes KVM_GMEM_CONVERT_PRIVATE fail with
            // EAGAIN; the VMM finishes the quote, which drops its pins, and converts again.
            "vcpu0   conversion at 0x230000: EAGAIN (the VMM held the page); finished its work there, converted again",
        ], conversions);
        Assert.Contains("conversions (4K pages): explicit to-shared 6, to-private 5; implicit to-shared 1, to-private 1; EAGAIN retries 1", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("pages accepted or validated: 518", result.Stderr, StringComparison.Ordinal);
        // TDX maps private memory at 4K only: 128 MiB of RAM and the image's and TempMem's pages, and no 2M leaf.
        Assert.Contains("pages_4k: 32784\npages_2m: 0\npages_1g: 0", result.Stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("attributes-discard")]
    [InlineData("attributes")]
    public void Launch_WithAttributeConversions_SameOutput_NoEagain(string mode)
    {
        var inPlace = CliRunner.Run("launch", Spec);
        var result = CliRunner.Run("launch", Spec, "--conversion", mode, "--stats");
        Assert.Equal((0, inPlace.Stdout), (result.Exit, result.Stdout));
        Assert.Contains("EAGAIN retries 0", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Launch_TwoVcpus_TheApParksOnItsOwnThread_TheBspFinishes()
    {
        using var dir = new TempDir();
        string spec = dir.Write("td2.yaml", File.ReadAllText(Spec).Replace("vcpus: 1", "vcpus: 2", StringComparison.Ordinal)
            .Replace("../samples", Path.Combine(RepoPaths.Root, "samples"), StringComparison.Ordinal));
        var result = CliRunner.Run("launch", spec, "--stats");
        Assert.Equal(0, result.Exit);
        Assert.Contains("tdx-4k: GPAW 0x30, attributes 0x0000000010000000, vcpus 0x02\n", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("exits: Hlt 1, ", result.Stderr, StringComparison.Ordinal); // the AP's TDVMCALL HLT
        Assert.EndsWith("tdx-4k: power off\n", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Launch_InstructionLimit_ExitsOneNamingIt()
    {
        var result = CliRunner.Run("launch", Spec, "--max-instructions", "1000");
        Assert.Equal(1, result.Exit);
        Assert.Equal($"cocolaunch: {Spec}: the guest stopped without isa-debug-exit or power-off: instruction limit reached", result.ErrorLine);
    }

    [Fact]
    public void Image_IsWhatTheBuildScriptMakes_Sha256()
    {
        string expected = File.ReadLines(Path.Combine(RepoPaths.Root, "samples", "tdx-4k", "bin", "SHA256SUMS"))
            .Single(l => l.EndsWith(" tdx-4k.fd", StringComparison.Ordinal)).Split(' ')[0];
        Assert.Equal(expected, Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(Image))));
    }
}
