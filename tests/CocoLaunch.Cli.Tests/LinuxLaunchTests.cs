using CocoLaunch.Tests.Shared;

namespace CocoLaunch.Cli.Tests;

/// <summary>
/// <c>cocolaunch launch launch-specs/linux.yaml</c>: Debian's 6.12 cloud kernel, booted without firmware on the
/// emulated platform, runs our initramfs's /init, which powers the VM off. The expected lines are the ones the same
/// kernel and initramfs print under QEMU 7.2 TCG (linux/debian-linux-image-6.12.101-1~deb12u1/README.md); where the
/// platforms differ (the CPU vendor of the chosen vcpu-type, a PID), the test says so.
/// </summary>
public sealed class LinuxLaunchTests
{
    /// <summary>The banner QEMU 7.2 printed for this kernel, byte for byte.</summary>
    private const string Banner = "Linux version 6.12.101+deb12-cloud-amd64 (debian-kernel@lists.debian.org) (x86_64-linux-gnu-gcc-12 (Debian 12.2.0-14+deb12u1) 12.2.0, GNU ld (GNU Binutils for Debian) 2.40) #1 SMP PREEMPT_DYNAMIC Debian 6.12.101-1~deb12u1 (2026-08-10)";

    [Fact]
    public void LinuxSpec_BootsToInit_RunsIt_AndPowersOffWithExitZero()
    {
        // The default 120 s bound suits a Release build (about 15 s); a Debug test run on a busy 2-core machine needs more.
        var result = CliRunner.Run("launch", RepoPaths.LaunchSpec("linux.yaml"), "--timeout", "900");
        Assert.True(result.Exit == 0, $"exit {result.Exit}: {result.Stderr}\n{Tail(result.Stdout)}");
        Assert.Equal(string.Empty, result.Stderr); // the console alone is on stdout; nothing else is printed

        // Kernel lines lose their "[    0.000000] " timestamps; the init's lines have none.
        var lines = result.Stdout.Split('\n').Select(l => l.TrimEnd('\r')).Select(l => l.Length > 15 && l[0] == '[' ? l[15..] : l).ToList();
        Assert.Contains(Banner, lines);
        Assert.Contains("Command line: console=ttyS0", lines);
        Assert.Contains("BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable", lines); // as QEMU's first entry
        Assert.Contains("RAMDISK: [mem 0x0ffb5000-0x0fffffff]", lines); // the 305,505-byte initrd at the top of 256 MiB

        // Milestones of linux-guest.md §7: the timer interrupt runs (the delay loop is calibrated from it), the UART
        // probes as a 16550A, and the kernel starts our init.
        Assert.Contains(lines, l => l.StartsWith("Calibrating delay loop (skipped), value calculated using timer frequency", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("ttyS0 at I/O 0x3f8", StringComparison.Ordinal) && l.EndsWith("is a 16550A", StringComparison.Ordinal));
        int init = lines.IndexOf("Run /init as init process");
        Assert.True(init > 0, Tail(result.Stdout));

        // The init's lines as QEMU printed them, in order; the vendor is the kvm-intel table's, and the child's PID
        // depends on how many kernel threads ran first.
        string[] expected =
        [
            "cocolaunch-init: hello from PID 1",
            "cocolaunch-init: Linux 6.12.101+deb12-cloud-amd64 x86_64",
            "cocolaunch-init: cpuinfo vendor_id\t: GenuineIntel, processors 1",
            "cocolaunch-init: file round trip ok",
        ];
        Assert.Equal(expected, lines.Skip(init + 1).Take(4));
        Assert.Matches(@"^cocolaunch-init: child \d+ exited with 42$", lines[init + 5]);
        Assert.Equal("cocolaunch-init: powering off", lines[init + 6]);
        Assert.Equal(["ACPI: PM: Preparing to enter system sleep state S5", "reboot: Power down", string.Empty], lines.Skip(init + 7));
    }

    /// <summary>
    /// The same kernel on the <c>qemu64</c> vCPU type: AMD, no x2APIC, no TSC-deadline timer, no TSC frequency in
    /// CPUID. Linux then calibrates the TSC against the 8254 (port 0x61 gating channel 2), drives the local APIC
    /// through its xAPIC page in one-shot mode, and the init reads the vendor QEMU's qemu64 reports.
    /// </summary>
    [Fact]
    public void Qemu64VcpuType_CalibratesWithThePit_RunsTheXapic_AndPowersOff()
    {
        using var dir = new TempDir();
        string spec = dir.Write("linux-qemu64.yaml",
            $"platform: default\nkernel: {RepoPaths.DebianKernel}\ninitrd: {RepoPaths.TestInitramfs}\ncmdline: console=ttyS0\nvcpu-type: qemu64\nmemory: 256M\n");
        var result = CliRunner.Run("launch", spec, "--timeout", "900");
        Assert.True(result.Exit == 0, $"exit {result.Exit}: {result.Stderr}\n{Tail(result.Stdout)}");
        var lines = result.Stdout.Split('\n').Select(l => l.TrimEnd('\r')).Select(l => l.Length > 15 && l[0] == '[' ? l[15..] : l).ToList();
        Assert.Contains("tsc: Fast TSC calibration using PIT", lines);
        Assert.DoesNotContain("x2apic enabled", lines);
        Assert.Contains("cocolaunch-init: cpuinfo vendor_id\t: AuthenticAMD, processors 1", lines); // as under QEMU 7.2's qemu64
        Assert.Equal("reboot: Power down", lines[^2]);
    }

    private static string Tail(string text) => string.Join('\n', text.Split('\n').TakeLast(15));
}
