using CocoLaunch.Tests.Shared;

namespace CocoLaunch.Cli.Tests;

/// <summary>`cocolaunch eventlog` on real CC event logs (trustee's test data) and on broken ones.</summary>
public sealed class EventLogVerbTests
{
    private static string Log(string name) => RepoPaths.TestData("ccel/" + name);

    [Fact]
    public void OvmfLog_PrintsEveryEventAndTheRtmrsTrusteeStates()
    {
        var result = CliRunner.Run("eventlog", Log("CCEL_data_ovmf"));
        Assert.Equal(0, result.Exit);
        var lines = result.Stdout.Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        Assert.EndsWith("CCEL_data_ovmf: 20 events after the Spec ID event (sha384), 2120 bytes", lines[0]);
        Assert.Equal("0x00041  MR1  EV_EFI_HANDOFF_TABLES2             0b8772e5b0b41b83e6044a68397e02f49fb47066b4fbe4917ea2c45c64f323fdacbb37948f821ebaf8bc9c938ba8a749", lines[1]);
        Assert.Equal(20, lines.Count(l => l.StartsWith("0x", StringComparison.Ordinal)));
        // trustee's deps/eventlog/src/lib.rs, test_rtmr_integrity, for CCEL_data_ovmf (tests/data/ccel/rtmrs.tsv)
        Assert.Contains("RTMR2 94eaf7a7bf398ed8d888c91057ae0261802e4f3df084213a76ca7f0b5055ac9d2241de43cd58d9e8b49c503bbf25f34a", lines);
    }

    [Fact]
    public void Sm3Log_IsPrintedButNotReplayedAsRtmrs()
    {
        var result = CliRunner.Run("eventlog", Log("CCEL_data_csv"));
        Assert.Equal(0, result.Exit);
        Assert.Contains("(sm3_256)", result.Stdout);
        Assert.Contains("RTMRs not replayed: the log has no SHA-384 digests", result.Stdout);
    }

    [Fact]
    public void TpmLog_IsPrintedButNotReplayedAsRtmrs()
    {
        // A TPM 2.0 log of OVMF 2025.02 under QEMU 7.2 (tests/data/ovmf-direct-boot/README.md): its first event is PCR0's.
        var result = CliRunner.Run("eventlog", RepoPaths.TestData("ovmf-direct-boot/tpm-2G/eventlog"));
        Assert.Equal(0, result.Exit);
        Assert.Contains("eventlog: 28 events after the Spec ID event (sha256, sha384), 3605 bytes", result.Stdout);
        Assert.Contains("RTMRs not replayed: the event at 0x45 has index 0, a TPM PCR; a CC log's MR indexes are 1 to 4", result.Stdout);
        Assert.DoesNotContain("RTMR0 ", result.Stdout);
    }

    [Fact]
    public void TruncatedLog_IsAnInputErrorNamingTheOffset()
    {
        using var dir = new TempDir();
        string cut = dir.Write("cut.bin", File.ReadAllBytes(Log("CCEL_data_ovmf"))[..0x100]);
        var result = CliRunner.Run("eventlog", cut);
        Assert.Equal(2, result.Exit);
        Assert.Equal($"cocolaunch: {cut}: offset 0xeb: record of EV_EFI_PLATFORM_FIRMWARE_BLOB2 at 0xad: event size 58 runs past the log's end (0x100)", result.ErrorLine);
    }

    [Fact]
    public void EventLogWithAnSnpReport_IsAnInputError()
    {
        using var dir = new TempDir();
        Assert.Equal(0, CliRunner.Run("attest", RepoPaths.LaunchSpec("snp.yaml"), "--out", dir.Path).Exit);
        var result = CliRunner.Run("verify-evidence", Path.Combine(dir.Path, "report.bin"), "--root", Path.Combine(dir.Path, "ark.pem"), "--event-log", Log("CCEL_data_ovmf"), "--no-measurement-check");
        Assert.Equal(2, result.Exit);
        Assert.Equal("cocolaunch: --event-log: a CC event log replays to a TDX quote's RTMRs; an SNP report has none", result.ErrorLine);
    }
}
