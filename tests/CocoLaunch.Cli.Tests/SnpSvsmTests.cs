using CocoLaunch.Tests.Shared;

namespace CocoLaunch.Cli.Tests;

/// <summary>
/// SNP with an SVSM below OVMF (sev-snp-measure's snp:svsm mode) on sev-snp-measure's own fixtures: digests from real
/// launches and from the oracle (tests/data/oracle-snp-svsm.tsv), in its option form and as a spec.
/// </summary>
public sealed class SnpSvsmTests
{
    private static string Svsm => Path.Combine(RepoPaths.Root, "firmware", "coconut-svsm", "svsm.bin");

    private static string Ovmf => Path.Combine(RepoPaths.Root, "firmware", "coconut-svsm", "svsm_ovmf.fd");

    public static TheoryData<string[]> Rows => DataTable.Rows("oracle-snp-svsm.tsv", "vcpu-type\t");

    [Theory]
    [MemberData(nameof(Rows))]
    public void SevSnpMeasureForm_GivesTheDigestOfARealLaunchOrTheOracle(string[] row)
    {
        var result = CliRunner.Run("measure", "--mode", "snp:svsm", "--vcpus", row[1], "--vcpu-type", row[0], "--ovmf", Ovmf, "--svsm", Svsm, "--vars-size", row[2]);
        Assert.True(result.Exit == 0, result.Stderr);
        Assert.Equal(row[3], result.Stdout.Trim());
    }

    [Fact]
    public void VarsFile_GivesTheVariableStoresSize()
    {
        // sev-snp-measure --mode snp:svsm --vcpus 2 --vcpu-type EPYC-Milan --vars-file (Debian's 131,072-byte OVMF_VARS.fd)
        var result = CliRunner.Run("measure", "--mode", "snp:svsm", "--vcpus", "2", "--vcpu-type", "EPYC-Milan", "--ovmf", Ovmf, "--svsm", Svsm, "--vars-file", RepoPaths.OvmfVarsFd);
        Assert.Equal("87a3be772849ce781470cba2e776c593cee59af643068dc51df8e5af89fd9a5a55025d7a19e4bad4ac41482c880f3886", result.Stdout.Trim());
    }

    [Fact]
    public void Spec_GivesTheRealLaunchsDigest_AndDumpsOneSvsmVmsaPerVcpu()
    {
        // --dump-vmsa writes into the working directory, so this runs as a separate process.
        using var dir = new TempDir();
        var start = new System.Diagnostics.ProcessStartInfo("dotnet", ["exec", Path.Combine(AppContext.BaseDirectory, "cocolaunch.dll"), "measure", RepoPaths.LaunchSpec("snp-svsm.yaml"), "--dump-vmsa"])
        {
            WorkingDirectory = dir.Path,
            RedirectStandardOutput = true,
        };
        using var process = System.Diagnostics.Process.Start(start)!;
        string stdout = process.StandardOutput.ReadToEnd();
        Assert.True(process.WaitForExit(60_000), "cocolaunch did not finish");
        Assert.Equal("27d154c27b7b359c935e250ec6fee72aa0ae8c1225e3b0e1cf46a9567e938066d7d6f94bbdc4a857818bdb79277a44b2", stdout.Trim());
        Assert.Equal(["vmsa0.bin", "vmsa1.bin", "vmsa2.bin", "vmsa3.bin"], Directory.GetFiles(dir.Path).Select(Path.GetFileName).Order());
        byte[] vmsa = File.ReadAllBytes(Path.Combine(dir.Path, "vmsa0.bin"));
        Assert.Equal(0xFFAE_A000UL, BitConverter.ToUInt64(vmsa, 0x178)); // RIP: the SVSM's entry (SVSM_INFO offset 0, the image at 0xFFAEA000)
    }

    [Theory]
    [InlineData(new[] { "--vcpus", "1", "--vcpu-type", "EPYC-v4", "--vars-size", "540672" }, "cocolaunch: --svsm is required with --mode snp:svsm")]
    [InlineData(new[] { "--vcpus", "1", "--vcpu-type", "EPYC-v4", "--svsm", "{SVSM}" }, "cocolaunch: --mode snp:svsm needs exactly one of --vars-size and --vars-file")]
    [InlineData(new[] { "--vcpus", "1", "--vcpu-type", "EPYC-v4", "--svsm", "{SVSM}", "--vars-size", "1000" }, "cocolaunch: --vars-size: 0x3e8 is not a whole number of 4 KiB pages up to 64 MiB")]
    public void BadSvsmOptions_AreInputErrors(string[] extra, string message)
    {
        string[] args = ["measure", "--mode", "snp:svsm", "--ovmf", Ovmf, .. extra.Select(a => a == "{SVSM}" ? Svsm : a)];
        var result = CliRunner.Run(args);
        Assert.Equal((2, message), (result.Exit, result.ErrorLine));
    }

    [Fact]
    public void SvsmOptionsWithoutItsMode_AreAnInputError()
    {
        var result = CliRunner.Run("measure", "--mode", "snp", "--vcpus", "1", "--vcpu-type", "EPYC-v4", "--ovmf", Ovmf, "--svsm", Svsm);
        Assert.Equal((2, "cocolaunch: --svsm, --vars-size and --vars-file belong to --mode snp:svsm"), (result.Exit, result.ErrorLine));
    }

    [Fact]
    public void LaunchOfAnSvsmSpec_SaysBootingItIsNotEmulated_ExitTwo()
    {
        var result = CliRunner.Run("launch", RepoPaths.LaunchSpec("snp-svsm.yaml"));
        Assert.Equal(2, result.Exit);
        Assert.EndsWith("booting an SVSM (snp.svsm) is not emulated; measure, reference-values and verify work on this spec, and launch --stop-after runs its steps", result.ErrorLine);
        Assert.Equal(0, CliRunner.Run("launch", RepoPaths.LaunchSpec("snp-svsm.yaml"), "--stop-after", "prefault").Exit);
    }
}
