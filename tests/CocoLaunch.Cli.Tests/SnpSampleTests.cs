using System.Security.Cryptography;
using CocoLaunch.Tests.Shared;

namespace CocoLaunch.Cli.Tests;

/// <summary>
/// The SEV-SNP sample (samples/snp) through <c>cocolaunch launch</c>: GHCB MSR protocol and NAE events, PVALIDATE,
/// page-state changes, and an attestation report from an AES-GCM guest request whose MEASUREMENT must equal
/// <c>measure</c> and sev-snp-measure on the same image.
/// </summary>
public sealed class SnpSampleTests
{
    // sev-snp-measure (virtee, 8f2b337) run here as an oracle:
    //   sev-snp-measure.py --mode snp --vcpus 1 --vcpu-type EPYC-v4 --ovmf samples/snp/bin/snp.fd
    internal const string OracleDigest = "634107b7f141c774e263f169cd1ccc6db36aa05090c9ebe2ed50bbf87f55af20700c254762a21ae28dd2c2c4af9de09e";

    // The same, with --vcpus 2: two VMSAs measured (the AP's at the SEV-ES reset block's EIP).
    private const string OracleDigestTwoVcpus = "c8bde2f61ba3ad2a226e4ebeeef0cc28016dafd26392fb92826560193ee1676d9a6de1f8ef63ae4984a1fd60ac136976";

    private static string Spec(string name) => RepoPaths.LaunchSpec(name);

    [Fact]
    public void Launch_PrintsTheReportsMeasurement_EqualToMeasureAndTheOracle_AndPowersOff()
    {
        var result = CliRunner.Run("launch", Spec("snp-sample.yaml"));
        Assert.Equal(OracleDigest, CliRunner.Run("measure", Spec("snp-sample.yaml")).Stdout.Trim());
        Assert.Equal(0, result.Exit);
        Assert.Equal(
            $"""
            snp: guest started, GHCB protocol 0x2, C-bit 0x33
            snp: CPUID 0x8000001f: eax 0x0000001a (SEV, SEV-ES, SNP), ebx 0x00000073 (C-bit 51)
            snp: validated 2 MiB: 0x0000 x 2M, 0x0200 x 4K (2M PVALIDATE: size mismatch)
            snp: report version 0x03, policy 0x0000000000030000, vmpl 0
            snp: MEASUREMENT {OracleDigest}
            snp: request page private again, validated, written and read back
            snp: AP creation of APIC ID 0x01 refused: exitinfo 0x2/0x5 (no such vCPU)
            snp: power off

            """.Replace("\r\n", "\n", StringComparison.Ordinal),
            result.Stdout);
    }

    [Fact]
    public void EvidenceOut_IsTheReportTheGuestReceived_WithItsVcekChainBeside_AndVerifies()
    {
        using var dir = new TempDir();
        string report = Path.Combine(dir.Path, "report.bin");
        var result = CliRunner.Run("launch", Spec("snp-sample.yaml"), "--evidence-out", report);
        Assert.Equal(0, result.Exit);
        Assert.Contains($"wrote {report} and vcek.pem, ask.pem, ark.pem beside it", result.Stderr, StringComparison.Ordinal);

        // verify-evidence finds vcek.pem and ask.pem beside the report; the sample asked with REPORT_DATA 0xC0..0xFF
        // (samples/snp/src/main.c), and its MEASUREMENT is the oracle's.
        string reportData = Convert.ToHexStringLower([.. Enumerable.Range(0xC0, 64).Select(i => (byte)i)]);
        var verified = CliRunner.Run("verify-evidence", report, "--root", Path.Combine(dir.Path, "ark.pem"), "--measurement", OracleDigest, "--report-data", reportData);
        Assert.True(verified.Exit == 0, verified.Stdout + verified.Stderr);
        Assert.Contains("ok   policy.report-data: REPORT_DATA is as expected", verified.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void EvidenceOut_FromAGuestThatStoppedBeforeItsRequest_TheStopIsTheError_NoFileIsWritten()
    {
        using var dir = new TempDir();
        string image = Path.Combine(RepoPaths.Root, "samples", "snp", "bin", "snp-unvalidated.fd");
        string spec = dir.Write("snp.yaml", $"platform: snp\nfirmware: {image}\nvcpus: 1\nmemory: 128M\nsnp:\n  vcpu-type: EPYC-v4\n  policy: 0x30000\n");
        var result = CliRunner.Run("launch", spec, "--evidence-out", Path.Combine(dir.Path, "report.bin"));
        Assert.Equal(1, result.Exit);
        Assert.Contains("guest shut down (triple fault, or the guest program ended) (vCPU 0 at RIP 0x", result.ErrorLine, StringComparison.Ordinal);
        Assert.Equal([Path.Combine(dir.Path, "snp.yaml")], Directory.GetFiles(dir.Path)); // no report, no certificates
    }

    [Fact]
    public void Launch_TraceShowsThePageStateChanges_StatsCountThem()
    {
        var result = CliRunner.Run("launch", Spec("snp-sample.yaml"), "--trace-exits", "--stats");
        string[] conversions = [.. result.Stderr.Split('\n').Where(l => l.Contains("hypercall", StringComparison.Ordinal))];
        Assert.Equal(
        [
            "vcpu0 hypercall nr=12 gpa=0x400000 pages=1 to=shared", // the GHCB, by the MSR protocol
            "vcpu0 hypercall nr=12 gpa=0x401000 pages=2 to=shared", // request and response: one NAE PSC, two entries merged
            "vcpu0 hypercall nr=12 gpa=0x401000 pages=1 to=private",
        ], conversions);
        Assert.Contains("conversions (4K pages): explicit to-shared 3, to-private 1; implicit to-shared 0, to-private 0", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("pages_4k: 32784\npages_2m: 0\npages_1g: 0", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("RMP since launch: 2M entries made 0, split by PSMASH 0, left 0; 2M PVALIDATEs 0\n", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void HugeGuestMemfdPages_OneTwoMegPvalidate_TwoMegLeaves_TheGhcbRegionSplit_SameMeasurement()
    {
        var result = CliRunner.Run("launch", Spec("snp-sample-2m.yaml"), "--stats");
        Assert.Equal(0, result.Exit);
        Assert.Contains("snp: validated 2 MiB: 0x0001 x 2M, 0x0000 x 4K\n", result.Stdout, StringComparison.Ordinal);
        Assert.Contains($"snp: MEASUREMENT {OracleDigest}\n", result.Stdout, StringComparison.Ordinal);
        Assert.EndsWith("snp: power off\n", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("pages accepted or validated: 513\n", result.Stderr, StringComparison.Ordinal);
        // 128 MiB is 64 regions of 2 MiB. The one holding the launch's SEC_MEM, secrets and CPUID pages stays 4K; the
        // other 63 get 2M RMP entries. The GHCB's region is split when the GHCB goes shared, and the validated
        // region when the guest RMPADJUSTs its AP's VMSA page, leaving 61 2M leaves; the 4K leaves are the GHCB
        // region's 3 touched pages, the launch region's 512 and the 16 of the image.
        Assert.Contains("RMP since launch: 2M entries made 63, split by PSMASH 2, left 61; 2M PVALIDATEs 1\n", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("pages_4k: 531\npages_2m: 61\npages_1g: 0", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void TwoVcpus_TheBspCreatesTheApFromItsOwnVmsa_TheApRunsAndHalts()
    {
        var result = CliRunner.Run("launch", Spec("snp-sample-2vcpu.yaml"), "--stats");
        Assert.Equal(OracleDigestTwoVcpus, CliRunner.Run("measure", Spec("snp-sample-2vcpu.yaml")).Stdout.Trim());
        Assert.Equal(0, result.Exit);
        Assert.Contains($"snp: MEASUREMENT {OracleDigestTwoVcpus}\n", result.Stdout, StringComparison.Ordinal);
        // The AP read its APIC ID through its own GHCB MSR (CPUID 1 EBX) and its RDI from the VMSA the BSP wrote.
        Assert.EndsWith("snp: AP 0x01 ran from its VMSA: APIC ID 0x01, RDI 0x5eed\nsnp: power off\n", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("exits: Hlt 1, Hypercall 3, Io ", result.Stderr, StringComparison.Ordinal); // the AP's HLT
    }

    [Fact]
    public void DebugPolicy_BootsTheSame_TheReportCarriesThePolicy_TheDigestDoesNot()
    {
        var result = CliRunner.Run("launch", Spec("snp-sample-debug.yaml"));
        Assert.Equal(0, result.Exit);
        Assert.Contains("snp: report version 0x03, policy 0x00000000000b0000, vmpl 0\n", result.Stdout, StringComparison.Ordinal);
        Assert.Contains($"snp: MEASUREMENT {OracleDigest}\n", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void SingleSocketPolicy_LaunchStartRefusesIt_ExitTwo()
    {
        var result = CliRunner.Run("launch", Spec("snp-sample-single-socket.yaml"));
        Assert.Equal(2, result.Exit);
        Assert.EndsWith("step snp-launch-start: EINVAL: KVM_SEV_SNP_LAUNCH_START: policy 0x130000 asks for SINGLE_SOCKET, which KVM does not support", result.ErrorLine, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("pvalidate-shared", "snp: PVALIDATE of the shared GHCB page\n", "memory fault at 0x400000 repeated after conversion (EFAULT)")]
    [InlineData("unvalidated", "snp: reading an unvalidated page\n", "guest shut down (triple fault, or the guest program ended)")]
    public void MisbehavingGuest_EndsCleanlyWithAReason(string scenario, string lastLine, string reason)
    {
        using var dir = new TempDir();
        string image = Path.Combine(RepoPaths.Root, "samples", "snp", "bin", $"snp-{scenario}.fd");
        string spec = dir.Write("snp.yaml", $"platform: snp\nfirmware: {image}\nvcpus: 1\nmemory: 128M\nsnp:\n  vcpu-type: EPYC-v4\n  policy: 0x30000\n");
        var result = CliRunner.Run("launch", spec);
        Assert.Equal(1, result.Exit);
        Assert.EndsWith(lastLine, result.Stdout, StringComparison.Ordinal);
        Assert.Contains($"{reason} (vCPU 0 at RIP 0x", result.ErrorLine, StringComparison.Ordinal); // where the guest was
    }

    [Fact]
    public void Image_IsWhatTheBuildScriptMakes_Sha256()
    {
        string expected = File.ReadLines(Path.Combine(RepoPaths.Root, "samples", "snp", "bin", "SHA256SUMS"))
            .Single(l => l.EndsWith(" snp.fd", StringComparison.Ordinal)).Split(' ')[0];
        Assert.Equal(expected, Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(Path.Combine(RepoPaths.Root, "samples", "snp", "bin", "snp.fd")))));
    }
}
