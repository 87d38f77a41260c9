using CocoLaunch.Tests.Shared;

namespace CocoLaunch.Cli.Tests;

/// <summary>
/// Debian's kernel as an SEV-SNP guest (launch-specs/linux-snp.yaml, samples/linux-snp): our Linux SNP firmware
/// validates RAM, reads the kernel, initrd and command line from fw_cfg, checks them against the measured hashes table
/// and boots Linux, which finds SNP through the CC blob and runs our init to power-off. A VMM that serves other blobs
/// than the ones it measured gets a refusal with the firmware's reason code.
/// </summary>
public sealed class LinuxSnpLaunchTests
{
    /// <summary>
    /// sev-snp-measure (github.com/virtee/sev-snp-measure at 8f2b337), run as an oracle:
    /// <c>sev-snp-measure.py --mode snp --vcpus 1 --vcpu-type EPYC-v4 --ovmf samples/linux-snp/bin/linux-snp.fd
    /// --kernel linux/debian-linux-image-6.12.101-1~deb12u1/vmlinuz-6.12.101+deb12-cloud-amd64
    /// --initrd initramfs/bin/initramfs.cpio.gz --append "console=ttyS0 earlyprintk=serial,ttyS0,115200 nokaslr"</c>.
    /// </summary>
    private const string SevSnpMeasureDigest = "b3a93eafc5c6b6d8c11f1531ea491f088f3a68bad5a34624abb00115aaa8a7e34e79d7f7386ce6e36233f6f60ab0eb36";

    private const string Cmdline = "console=ttyS0 earlyprintk=serial,ttyS0,115200 nokaslr";

    private static string Spec => RepoPaths.LaunchSpec("linux-snp.yaml");

    [Fact]
    public void Measure_EqualsSevSnpMeasure_ForTheSameFirmwareKernelInitrdAndCommandLine()
    {
        var result = CliRunner.Run("measure", Spec);
        Assert.Equal((0, SevSnpMeasureDigest), (result.Exit, result.Stdout.Trim()));
    }

    [Fact]
    public void LinuxSnpSpec_BootsAsAnSnpGuest_ToTheInit_AndPowersOff()
    {
        var result = CliRunner.Run("launch", Spec, "--timeout", "900", "--stats");
        Assert.True(result.Exit == 0, $"exit {result.Exit}: {string.Join('\n', result.Stderr.Split('\n').TakeLast(3))}\n{string.Join('\n', result.Stdout.Split('\n').TakeLast(15))}");
        var lines = result.Stdout.Split('\n').Select(l => l.TrimEnd('\r')).Select(l => l.Length > 15 && l[0] == '[' ? l[15..] : l).ToList();

        Assert.Equal("linux-snp: SNP firmware started from its measured VMSA: GHCB protocol 2, C-bit 51", lines[0]);
        Assert.Matches(@"^linux-snp: validated 0 x 2M \+ \d+ x 4K pages \(\d+ already valid from the launch\)$", lines[1]);
        Assert.Equal("linux-snp: kernel, initrd and command line match the measured hashes table", lines[3]);
        Assert.Contains("Memory Encryption Features active: AMD SEV SEV-ES SEV-SNP", lines);
        Assert.Contains("SEV: Status: SEV SEV-ES SEV-SNP ", lines);
        Assert.Contains("SEV: Using SNP CPUID table, 11 entries present.", lines); // SnpCpuidTable: the EpycSnp leaves
        Assert.Contains("SEV: SNP running at VMPL0.", lines);
        Assert.Contains("SEV: SNP guest platform device initialized.", lines);
        // The firmware's e820: its secrets, CPUID and hashes pages reserved, the ACPI tables ACPI data.
        Assert.Contains("BIOS-e820: [mem 0x0000000000810000-0x000000000081ffff] reserved", lines);
        Assert.Contains("BIOS-e820: [mem 0x0000000000820000-0x000000000082ffff] ACPI data", lines);

        int init = lines.IndexOf("Run /init as init process");
        Assert.True(init > 0);
        Assert.Equal("cocolaunch-init: hello from PID 1", lines[init + 1]);
        Assert.Contains("cocolaunch-init: cpuinfo vendor_id\t: AuthenticAMD, processors 1", lines);
        Assert.Contains("reboot: Power down", lines);
        // The kernel's swiotlb went shared page by page (64 MiB and more); the firmware's shared window came back.
        Assert.Matches(@"explicit to-shared 1\d{4}, to-private \d+;", result.Stderr);
    }

    [Fact]
    public void AServedCommandLineOtherThanTheMeasuredOne_TheFirmwareRefuses_WithReason2Slash8()
    {
        var result = CliRunner.Run("launch", Spec, "--timeout", "300", "--serve-cmdline", Cmdline + " init=/bin/sh");
        Assert.Equal(1, result.Exit);
        Assert.Contains("linux-snp: REFUSED (termination reason 2/8): the command line's SHA-256 is not the one in the measured hashes table", result.Stdout);
        Assert.DoesNotContain("Linux version", result.Stdout);
        Assert.EndsWith("the SEV guest asked to terminate: reason set 2, code 8", result.ErrorLine);
        Assert.Equal(SevSnpMeasureDigest, CliRunner.Run("measure", Spec).Stdout.Trim());
    }

    [Fact]
    public void AServedInitrdWithOneByteChanged_TheFirmwareRefuses_WithReason2Slash7()
    {
        using var dir = new TempDir();
        byte[] initrd = File.ReadAllBytes(Path.Combine(RepoPaths.Root, "initramfs", "bin", "initramfs.cpio.gz"));
        initrd[initrd.Length / 2] ^= 0x01;
        string changed = Path.Combine(dir.Path, "initramfs.cpio.gz");
        File.WriteAllBytes(changed, initrd);

        var result = CliRunner.Run("launch", Spec, "--timeout", "300", "--serve-initrd", changed);
        Assert.Equal(1, result.Exit);
        Assert.Contains("linux-snp: REFUSED (termination reason 2/7): the initrd's SHA-256 is not the one in the measured hashes table", result.Stdout);
        Assert.EndsWith("the SEV guest asked to terminate: reason set 2, code 7", result.ErrorLine);
        Assert.Equal(SevSnpMeasureDigest, CliRunner.Run("measure", Spec).Stdout.Trim());
    }
}
