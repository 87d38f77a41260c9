using CocoLaunch.Tests.Shared;

namespace CocoLaunch.Cli.Tests;

/// <summary>SNP launch digests from the emulated launch against shared/vectors/public-check-values.tsv (sev-snp-measure 0.0.13 values).</summary>
public sealed class SnpMeasureTests
{
    public static TheoryData<string, int, string, string> PublicValues => new()
    {
        { "OVMF_CODE", 1, "EPYC-v4", "a479327cbb0b50e876024c2dac7412d4e5e95c7315c1f8b0446f6d3be69fefba50766285475926737e4a70b155252f88" },
        { "OVMF_CODE", 4, "EPYC-v4", "022a949083cab59e19c5ca3f5f7ddb9c991874f49f76f72ea3f8cee1aa411e70c0a92766729328069f00b3053fc8ea6f" },
        { "OVMF_CODE", 1, "EPYC-Milan", "836d70ef6fb294660c2227b0f535c07f814a965442bccfa75a240f478a9f4abd1a63dd0c796f3a75d7f16b02b1d3b8ee" },
        { "OVMF_CODE", 4, "EPYC-Milan", "cc2b38913550ecd41aadbcf2a5d309ae9d3cb0455c9e1f72892f6b18cfaea3f2e4f46a28b61ca0353724ee707c73177c" },
        { "ovmfx64-like", 1, "EPYC-v4", "a87612d354aa6c984169636fafefb4613c5a1cdf23a98976939535e17c438924ba17eb195621bd747d7b34476fc5edb5" },
    };

    [Theory]
    [MemberData(nameof(PublicValues))]
    public void Measure_SnpSpec_EqualsThePublicValue(string firmware, int vcpus, string vcpuType, string expected)
    {
        using var dir = new TempDir();
        string fw = firmware == "OVMF_CODE" ? RepoPaths.OvmfCodeFd : RepoPaths.Synthetic(firmware + ".fd");
        string spec = dir.Write("s.yaml", $"platform: snp\nfirmware: {fw}\nvcpus: {vcpus}\nmemory: 2G\nsnp:\n  vcpu-type: {vcpuType}\n  vmm-type: QEMU\n  guest-features: 0x1\n");
        var result = CliRunner.Run("measure", spec);
        Assert.Equal((0, expected, string.Empty), (result.Exit, result.Stdout.Trim(), result.Stderr));
    }

    [Fact]
    public void Measure_DirectBootWithKernelHashes_EqualsThePublicValue()
    {
        // Row "synthetic/amdsev-like.fd ... --kernel kernel_1MiB.bin --initrd initrd_320KiB.bin --append 'console=ttyS0 loglevel=7'".
        var result = CliRunner.Run("measure", RepoPaths.LaunchSpec("snp-direct-boot.yaml"));
        Assert.Equal((0, "7013fadc1a03edcb15778fd668ed571fd2b26abf7a4ae8adab220f61bb1d236649eb175ea281e6524617091507fba1fd"), (result.Exit, result.Stdout.Trim()));
    }

    [Fact]
    public void Measure_SnpExplain_FirmwareThenSectionsThenVmsa()
    {
        var result = CliRunner.Run("measure", RepoPaths.LaunchSpec("snp.yaml"), "--explain");
        string[] lines = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(480 + 9 + 3 + 1 + 1 + 17 + 1 + 1, lines.Length); // snp-launch-digest.md §3.2, then the digest line
        Assert.Equal("       0 UPDATE.NORMAL gpa=0x0000ffe20000 bytes=4208 firmware", lines[0]);
        Assert.Equal("     492 UPDATE.SECRETS gpa=0x00000080d000 bytes=112  SEV #2 SNP_SECRETS", lines[492]);
        Assert.Equal("     493 UPDATE.CPUID  gpa=0x00000080e000 bytes=112  SEV #3 CPUID", lines[493]);
        Assert.Equal("     511 UPDATE.VMSA   gpa=0xfffffffff000 bytes=4208 VMSA", lines[511]);
    }

    [Fact]
    public void Validate_SnpKernelWithoutHashesSection_IsStillRejectedBeforeMeasuring()
    {
        using var dir = new TempDir();
        string fw = RepoPaths.Synthetic("ovmfx64-like.fd");
        string spec = dir.Write("s.yaml", $"platform: snp\nfirmware: {fw}\nkernel: {RepoPaths.Synthetic("kernel_1MiB.bin")}\nmemory: 1G\nsnp: {{ vcpu-type: EPYC-v4 }}\n");
        var result = CliRunner.Run("measure", spec);
        Assert.Equal(2, result.Exit);
        Assert.Contains("needs an SNP_KERNEL_HASHES section", result.ErrorLine, StringComparison.Ordinal);
    }
}

/// <summary>Every SNP row of the public check values, its sev-snp-measure arguments passed to cocolaunch unchanged.</summary>
public sealed class SevSnpMeasureCompatibilityTests
{
    public static TheoryData<string, string> Rows()
    {
        var rows = new TheoryData<string, string>();
        foreach (string line in File.ReadLines(Path.Combine(RepoPaths.Root, "tests", "data", "public-check-values.tsv")))
        {
            string[] cells = line.Split('\t');
            if (cells.Length == 4 && cells[0] == "snp")
            {
                rows.Add(cells[2], cells[3]);
            }
        }

        return rows;
    }

    [Theory]
    [MemberData(nameof(Rows))]
    public void Measure_SevSnpMeasureArguments_GiveThePublicDigest(string arguments, string expected)
    {
        string[] args = ["measure", .. ShellWords(arguments).Select(Resolve)];
        var result = CliRunner.Run(args);
        Assert.Equal((0, expected, string.Empty), (result.Exit, result.Stdout.Trim(), result.Stderr));
    }

    [Fact]
    public void Measure_SevSnpMeasureForm_MissingVcpuTypeForQemu_ExitsTwo()
    {
        var result = CliRunner.Run("measure", "--mode", "snp", "--ovmf", RepoPaths.OvmfCodeFd, "--vcpus", "1");
        Assert.Equal((2, "cocolaunch: --vcpu-type, --vcpu-sig or --vcpu-family/--vcpu-model/--vcpu-stepping is required with --vmm-type QEMU"), (result.Exit, result.ErrorLine));
    }

    [Fact]
    public void Measure_SevSnpMeasureForm_FamilyModelSteppingEqualsVcpuType()
    {
        var byType = CliRunner.Run("measure", "--mode", "snp", "--ovmf", RepoPaths.OvmfCodeFd, "--vcpus", "2", "--vcpu-type", "EPYC-Milan");
        var byFms = CliRunner.Run("measure", "--mode", "snp", "--ovmf", RepoPaths.OvmfCodeFd, "--vcpus", "2", "--vcpu-family", "25", "--vcpu-model", "1", "--vcpu-stepping", "1");
        var bySig = CliRunner.Run("measure", "--mode", "snp", "--ovmf", RepoPaths.OvmfCodeFd, "--vcpus", "2", "--vcpu-sig", "0xa00f11");
        Assert.Equal(0, byType.Exit);
        Assert.Equal(byType.Stdout, byFms.Stdout);
        Assert.Equal(byType.Stdout, bySig.Stdout);
    }

    private static string Resolve(string word) => word switch
    {
        "OVMF_CODE.fd" => RepoPaths.OvmfCodeFd,
        _ when word.StartsWith("synthetic/", StringComparison.Ordinal) => RepoPaths.Synthetic(word["synthetic/".Length..]),
        _ => word,
    };

    /// <summary>Splits on spaces, keeping single-quoted words whole (the rows quote --append's value).</summary>
    private static IEnumerable<string> ShellWords(string text)
    {
        var word = new System.Text.StringBuilder();
        bool quoted = false;
        foreach (char ch in text)
        {
            if (ch == '\'')
            {
                quoted = !quoted;
            }
            else if (ch == ' ' && !quoted)
            {
                if (word.Length > 0)
                {
                    yield return word.ToString();
                    word.Clear();
                }
            }
            else
            {
                word.Append(ch);
            }
        }

        if (word.Length > 0)
        {
            yield return word.ToString();
        }
    }
}

/// <summary>--dump-vmsa writes files into the working directory, so it runs as a separate process.</summary>
public sealed class DumpVmsaTests
{
    [Fact]
    public void DumpVmsa_WritesOneVmsaPerVcpu_BspAtResetVectorApAtResetBlock()
    {
        using var dir = new TempDir();
        string dll = Path.Combine(AppContext.BaseDirectory, "cocolaunch.dll");
        var start = new System.Diagnostics.ProcessStartInfo("dotnet", ["exec", dll, "measure", "--mode", "snp", "--ovmf", RepoPaths.OvmfCodeFd, "--vcpus", "2", "--vcpu-type", "EPYC-v4", "--dump-vmsa"])
        {
            WorkingDirectory = dir.Path,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = System.Diagnostics.Process.Start(start)!;
        string stdout = process.StandardOutput.ReadToEnd();
        Assert.True(process.WaitForExit(60_000), "cocolaunch did not finish");
        Assert.Equal(0, process.ExitCode);
        byte[] bsp = File.ReadAllBytes(Path.Combine(dir.Path, "vmsa0.bin"));
        byte[] ap = File.ReadAllBytes(Path.Combine(dir.Path, "vmsa1.bin"));
        Assert.Equal((4096, 4096), (bsp.Length, ap.Length));
        Assert.Equal(0xFFF0UL, BitConverter.ToUInt64(bsp, 0x178));
        Assert.Equal(0xB004UL, BitConverter.ToUInt64(ap, 0x178)); // Debian AP reset EIP 0x80B004
        Assert.Equal(96, stdout.Trim().Length);
    }
}
