using CocoLaunch.Tests.Shared;

namespace CocoLaunch.Cli.Tests;

/// <summary>
/// <c>cocolaunch launch launch-specs/ovmf-linux-snp.yaml</c> (issue 20, the SNP guest): Debian's OVMF 2025.02 runs as
/// an SEV-SNP guest on the q35 devices, validates the RAM below 4 GiB, reads the kernel, initrd and command line
/// through fw_cfg (kernel-hashes off: unmeasured) and boots the kernel through its EFI stub with the RAM above 4 GiB
/// unaccepted. The SNP init asks the guest's firmware for an attestation report through /dev/sev-guest.
/// </summary>
public sealed class OvmfLinuxSnpLaunchTests
{
    private const string Init = "cocolaunch-snp-init: ";

    /// <summary>
    /// sev-snp-measure 0.0.13 (virtee/sev-snp-measure), run by hand on 2026-12-07 as <c>sev-snp-measure.py --mode snp
    /// --vcpus 1 --vcpu-type EPYC-v4 --ovmf firmware/debian-ovmf-2025.02-8+deb13u1/OVMF.fd --guest-features 0x1</c>:
    /// with kernel-hashes off the kernel is not measured, so this is the firmware's launch digest.
    /// </summary>
    private const string SevSnpMeasureDigest = "6eef547a9fcf5720c5c04883fe85788d29de46b55a51e554467029b554a3352e66d2f3c71b84cea937d19a1a6c41596f";

    [Fact]
    public void DebianOvmf_AsAnSnpGuest_BootsLinux_WithUnacceptedMemory_AndReportsTheFirmwaresDigest()
    {
        string spec = RepoPaths.LaunchSpec("ovmf-linux-snp.yaml");
        var measured = CliRunner.Run("measure", spec);
        Assert.Equal(0, measured.Exit);
        Assert.Equal(SevSnpMeasureDigest, measured.Stdout.Trim());

        // About 5 G instructions: 100-200 s in a Release build, several minutes in a Debug test run on 2 busy cores.
        var result = CliRunner.Run("launch", spec, "--timeout", "1500");
        Assert.True(result.Exit == 0, $"exit {result.Exit}: {result.Stderr}\n{string.Join('\n', result.Stdout.Split('\n').TakeLast(15))}");
        var console = result.Stdout.Split('\n').Select(l => l.TrimEnd('\r')).ToList();

        // The kernel runs as an SNP guest and finds OVMF's unaccepted-memory table in the EFI configuration tables.
        Assert.Contains(console, l => l.EndsWith("Memory Encryption Features active: AMD SEV SEV-ES SEV-SNP", StringComparison.Ordinal));
        Assert.Contains(console, l => l.Contains("efi: ", StringComparison.Ordinal) && l.Contains(" Unaccepted=0x", StringComparison.Ordinal));
        Assert.DoesNotContain(console, l => l.Contains("unchecked MSR access error", StringComparison.Ordinal));

        // The report the guest got from the SNP firmware carries the launch digest sev-snp-measure computes.
        var lines = console.Where(l => l.StartsWith(Init, StringComparison.Ordinal)).Select(l => l[Init.Length..]).ToList();
        Assert.Contains($"MEASUREMENT {SevSnpMeasureDigest}", lines);
        Assert.Contains("POLICY 0x0000000000030000", lines);
        Assert.Equal("powering off", lines[^1]);
    }
}
