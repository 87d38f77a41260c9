using CocoLaunch.Tests.Shared;

namespace CocoLaunch.Cli.Tests;

/// <summary>Launch digests against sev-snp-measure run as an oracle (tests/data/oracle-sev-snp-measure.tsv).</summary>
public sealed class SevSnpOracleTests
{
    public static TheoryData<string[]> Rows() => DataTable.Rows("oracle-sev-snp-measure.tsv", "mode");

    [Theory]
    [MemberData(nameof(Rows))]
    public void Measure_EmulatedLaunch_EqualsTheOracle(string[] row)
    {
        string mode = row[0], cpu = row[3], vmm = row[4], features = row[5];
        string fw = row[1].StartsWith("debian/", StringComparison.Ordinal) ? RepoPaths.OvmfCodeFd : RepoPaths.Synthetic(row[1]["synthetic/".Length..]);
        string? kernel = row[6] == "-" ? null : RepoPaths.Synthetic(row[6]);
        string? initrd = row[7] == "-" ? null : RepoPaths.Synthetic(row[7]);
        string? append = row[8] == "-" ? null : row[8];
        string cpuKey = cpu.StartsWith("sig:", StringComparison.Ordinal) ? $"vcpu-sig: {cpu[4..]}" : $"vcpu-type: {cpu}";

        using var dir = new TempDir();
        var yaml = new System.Text.StringBuilder();
        yaml.Append($"platform: {(mode == "seves" ? "sev-es" : mode)}\nfirmware: {fw}\nvcpus: {row[2]}\nmemory: 1G\n");
        if (kernel is not null)
        {
            yaml.Append($"kernel: {kernel}\n");
        }

        if (initrd is not null)
        {
            yaml.Append($"initrd: {initrd}\n");
        }

        if (append is not null)
        {
            yaml.Append($"cmdline: {append}\n");
        }

        yaml.Append(mode switch
        {
            "snp" => $"snp:\n  {cpuKey}\n  vmm-type: {vmm}\n  guest-features: {features}\n",
            "seves" => $"sev:\n  {cpuKey}\n  vmm-type: {vmm}\n  policy: 0x5\n",
            _ => string.Empty,
        });

        var result = CliRunner.Run("measure", dir.Write("s.yaml", yaml.ToString()));
        Assert.Equal((0, row[9], string.Empty), (result.Exit, result.Stdout.Trim(), result.Stderr));

        // The same launch through sev-snp-measure's own option names.
        var args = new List<string> { "measure", "--mode", mode, "--ovmf", fw, "--vcpus", row[2], "--vmm-type", vmm };
        if (cpu != "-")
        {
            args.AddRange(cpu.StartsWith("sig:", StringComparison.Ordinal) ? ["--vcpu-sig", cpu[4..]] : ["--vcpu-type", cpu]);
        }

        if (features != "-")
        {
            args.AddRange(["--guest-features", features]);
        }

        foreach (var (option, value) in new[] { ("--kernel", kernel), ("--initrd", initrd), ("--append", append) })
        {
            if (value is not null)
            {
                args.AddRange([option, value]);
            }
        }

        var flags = CliRunner.Run([.. args]);
        Assert.Equal((0, row[9]), (flags.Exit, flags.Stdout.Trim()));
    }
}
