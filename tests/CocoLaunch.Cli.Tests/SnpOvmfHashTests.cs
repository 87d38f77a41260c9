using CocoLaunch.Tests.Shared;

namespace CocoLaunch.Cli.Tests;

/// <summary>
/// sev-snp-measure's --mode snp:ovmf-hash (the digest after the firmware pages alone) and --snp-ovmf-hash (a
/// launch resumed from it), against that tool run as an oracle (tests/data/oracle-snp-ovmf-hash.tsv).
/// </summary>
public sealed class SnpOvmfHashTests
{
    private static readonly string AmdSev = RepoPaths.Synthetic("amdsev-like.fd");

    public static TheoryData<string[]> Rows() => DataTable.Rows("oracle-snp-ovmf-hash.tsv", "mode\t");

    [Theory]
    [MemberData(nameof(Rows))]
    public void Measure_EqualsTheOracle(string[] row)
    {
        string fw = row[1].StartsWith("debian/", StringComparison.Ordinal) ? RepoPaths.OvmfCodeFd : RepoPaths.Synthetic(row[1]["synthetic/".Length..]);
        var args = new List<string> { "measure", "--mode", row[0], "--ovmf", fw };
        if (row[0] == "snp")
        {
            args.AddRange(["--snp-ovmf-hash", row[2], "--vcpus", row[3], "--vcpu-type", row[4]]);
        }

        if (row[5] != "-")
        {
            args.AddRange(["--kernel", RepoPaths.Synthetic(row[5])]);
        }

        var result = CliRunner.Run([.. args]);
        Assert.Equal((0, row[6], string.Empty), (result.Exit, result.Stdout.Trim(), result.Stderr));
    }

    [Fact]
    public void ResumingFromTheFirmwareDigest_GivesThePlainLaunchDigest()
    {
        string firmwareDigest = CliRunner.Run("measure", "--mode", "snp:ovmf-hash", "--ovmf", AmdSev).Stdout.Trim();
        var plain = CliRunner.Run("measure", "--mode", "snp", "--ovmf", AmdSev, "--vcpus", "3", "--vcpu-type", "EPYC-Genoa");
        var resumed = CliRunner.Run("measure", "--mode", "snp", "--ovmf", AmdSev, "--vcpus", "3", "--vcpu-type", "EPYC-Genoa", "--snp-ovmf-hash", firmwareDigest);
        Assert.Equal((0, 0), (plain.Exit, resumed.Exit));
        Assert.Equal(plain.Stdout, resumed.Stdout);
    }

    [Fact]
    public void Explain_ShowsTheResumeInsteadOfTheFirmwarePages()
    {
        string digest = new('0', 96);
        var result = CliRunner.Run("measure", "--mode", "snp", "--ovmf", AmdSev, "--vcpus", "1", "--vcpu-type", "EPYC-v4", "--snp-ovmf-hash", digest, "--explain");
        Assert.Equal(0, result.Exit);
        var lines = result.Stdout.Split('\n');
        Assert.Contains("RESUME.PRECOMPUTED", lines[0]);
        Assert.DoesNotContain(lines, l => l.Contains("UPDATE.NORMAL", StringComparison.Ordinal) && l.EndsWith("firmware", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("00", "--snp-ovmf-hash: expected a 48-byte launch digest as 96 hex digits")]
    [InlineData("zz", "--snp-ovmf-hash: expected a 48-byte launch digest as 96 hex digits")]
    public void BadHash_ExitTwo(string hash, string message)
    {
        var result = CliRunner.Run("measure", "--mode", "snp", "--ovmf", AmdSev, "--vcpus", "1", "--vcpu-type", "EPYC-v4", "--snp-ovmf-hash", hash);
        Assert.Equal(2, result.Exit);
        Assert.Contains(message, result.Stderr);
    }

    [Fact]
    public void HashWithALegacyMode_ExitTwo()
    {
        var result = CliRunner.Run("measure", "--mode", "seves", "--ovmf", AmdSev, "--vcpus", "1", "--vcpu-type", "EPYC-v4", "--snp-ovmf-hash", new string('0', 96));
        Assert.Equal((2, "cocolaunch: --snp-ovmf-hash applies to --mode snp only"), (result.Exit, result.Stderr.Trim()));
    }

    [Fact]
    public void OvmfHashMode_NeedsOvmf_ExitTwo()
    {
        var result = CliRunner.Run("measure", "--mode", "snp:ovmf-hash", "--vcpus", "1");
        Assert.Equal(2, result.Exit);
        Assert.Contains("--ovmf is required with --mode snp:ovmf-hash", result.Stderr);
    }
}
