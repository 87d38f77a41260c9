using CocoLaunch.Tests.Shared;

namespace CocoLaunch.Cli.Tests;

/// <summary>
/// Debian's kernel as an SEV-SNP guest (launch-specs/linux-snp.yaml, samples/linux-snp): our Linux SNP firmware
/// validates RAM, reads the kernel, initrd and command line from fw_cfg, checks them against the measured hashes table
/// and boots Linux, which finds SNP through the CC blob and runs our SNP init (initramfs/src/snp-init.c): it loads
/// sev-guest, asks the firmware for its own attestation report, prints it and powers off. A VMM that serves other
/// blobs than the ones it measured gets a refusal with the firmware's reason code.
/// </summary>
public sealed class LinuxSnpLaunchTests
{
    /// <summary>
    /// sev-snp-measure (github.com/virtee/sev-snp-measure at 8f2b337), run as an oracle:
    /// <c>sev-snp-measure.py --mode snp --vcpus 1 --vcpu-type EPYC-v4 --ovmf samples/linux-snp/bin/linux-snp.fd
    /// --kernel linux/debian-linux-image-6.12.101-1~deb12u1/vmlinuz-6.12.101+deb12-cloud-amd64
    /// --initrd initramfs/bin/initramfs-snp.cpio.gz --append "console=ttyS0 earlyprintk=serial,ttyS0,115200 nokaslr"</c>.
    /// </summary>
    internal const string SevSnpMeasureDigest = "8781c5589a22cbcf0bab89bfaa26f3ba6eb1e831c031f80b2aa6f34188d712d85b3a1e08a1d298d46ab9e10c10b48b5f";

    private const string Cmdline = "console=ttyS0 earlyprintk=serial,ttyS0,115200 nokaslr";

    /// <summary>The REPORT_DATA the SNP init chooses (snp-init.c's report_data), as the report carries it.</summary>
    private static readonly string ReportData = Convert.ToHexStringLower("CocoLaunch SNP init: this REPORT_DATA is the guest's own choice."u8);

    private static string Spec => RepoPaths.LaunchSpec("linux-snp.yaml");

    [Fact]
    public void Measure_EqualsSevSnpMeasure_ForTheSameFirmwareKernelInitrdAndCommandLine()
    {
        var result = CliRunner.Run("measure", Spec);
        Assert.Equal((0, SevSnpMeasureDigest), (result.Exit, result.Stdout.Trim()));

        // The same through sev-snp-measure's own options, as the oracle was run.
        var options = CliRunner.Run("measure", "--mode", "snp", "--vcpus", "1", "--vcpu-type", "EPYC-v4", "--ovmf", Path.Combine(RepoPaths.Root, "samples", "linux-snp", "bin", "linux-snp.fd"),
            "--kernel", RepoPaths.DebianKernel, "--initrd", Path.Combine(RepoPaths.Root, "initramfs", "bin", "initramfs-snp.cpio.gz"), "--append", Cmdline);
        Assert.Equal((0, SevSnpMeasureDigest), (options.Exit, options.Stdout.Trim()));
    }

    [Fact]
    public void LinuxSnpSpec_BootsAsAnSnpGuest_ReportsWhatMeasurePredicts_AndItsReportVerifies()
    {
        using var dir = new TempDir();
        string reportPath = Path.Combine(dir.Path, "report.bin");
        var result = CliRunner.Run("launch", Spec, "--timeout", "900", "--stats", "--trace-exits", "--evidence-out", reportPath);
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

        // The init's report, from the firmware through sev-guest: its MEASUREMENT is the launch digest measure and
        // sev-snp-measure predict, its REPORT_DATA the bytes the init chose, its POLICY QEMU's default (SMT allowed,
        // reserved bit 17), which the spec leaves as it is. A second report through configfs-tsm (the extended
        // request) has the size the VMM wrote with --evidence-out.
        int init = lines.IndexOf("Run /init as init process");
        Assert.True(init > 0);
        Assert.Equal("cocolaunch-snp-init: hello from PID 1", lines[init + 1]);
        Assert.Contains("sev-guest sev-guest: Initialized SEV guest driver (using VMPCK0 communication key)", lines);
        string measured = CliRunner.Run("measure", Spec).Stdout.Trim();
        Assert.Equal(SevSnpMeasureDigest, measured);
        Assert.Equal(
            ["cocolaunch-snp-init: sev-guest loaded", $"cocolaunch-snp-init: MEASUREMENT {measured}", $"cocolaunch-snp-init: REPORT_DATA {ReportData}",
                "cocolaunch-snp-init: POLICY 0x0000000000030000",
                $"cocolaunch-snp-init: configfs-tsm report {new FileInfo(reportPath).Length} bytes from provider sev_guest, REPORT_DATA the same",
                "cocolaunch-snp-init: sev-guest unloaded", "cocolaunch-snp-init: powering off"],
            lines.Skip(init + 2).Where(l => l.StartsWith("cocolaunch-snp-init: ", StringComparison.Ordinal)).Take(7));
        Assert.Contains("reboot: Power down", lines);

        // Page-state changes both ways: the kernel's swiotlb went shared page by page (64 MiB and more), and sev-guest
        // made its request and response pages (one page each) and its 16 KiB certificate buffer shared at probe, and
        // private again, in the reverse order, when the init unloaded it.
        Assert.Matches(@"explicit to-shared 1\d{4}, to-private \d+;", result.Stderr);
        var trace = result.Stderr.Split('\n').ToList();
        int certificates = trace.FindIndex(l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^vcpu0 hypercall nr=12 gpa=0x[0-9a-f]+ pages=4 to=shared$"));
        Assert.True(certificates > 0, "no 4-page page-state change to shared in the exit trace");
        var pages = trace.Take(certificates).Where(l => l.EndsWith(" pages=1 to=shared", StringComparison.Ordinal)).TakeLast(2).Append(trace[certificates])
            .Select(l => l.Split(' ')[3]).ToList();
        int[] order = [.. pages.Select(gpa => trace.FindIndex(l => l.StartsWith($"vcpu0 hypercall nr=12 {gpa} ", StringComparison.Ordinal) && l.EndsWith(" to=shared", StringComparison.Ordinal))),
            .. pages.AsEnumerable().Reverse().Select(gpa => trace.FindLastIndex(l => l.StartsWith($"vcpu0 hypercall nr=12 {gpa} ", StringComparison.Ordinal) && l.EndsWith(" to=private", StringComparison.Ordinal)))];
        Assert.True(order.All(i => i >= 0) && order.SequenceEqual(order.Order()), $"trace lines at {string.Join(", ", order)}: request, response, certificates to shared, then back to private");

        // The report chains to the emulated VCEK's TEST ARK, carries the measurement of the spec's reference values,
        // signed by the CI test signer (samples/ci/test-keys) and checked against its CA, and the init's REPORT_DATA.
        string references = Path.Combine(dir.Path, "reference-values.json");
        string keys = Path.Combine(RepoPaths.Root, "samples", "ci", "test-keys");
        Assert.Equal(0, CliRunner.Run("reference-values", Spec, "--out", references, "--sign-cert", Path.Combine(keys, "signer.pem"), "--sign-key", Path.Combine(keys, "signer.key")).Exit);
        string Beside(string name) => Path.Combine(dir.Path, name);
        var verified = CliRunner.Run("verify-evidence", reportPath, "--root", Beside("ark.pem"), "--vcek", Beside("vcek.pem"), "--ask", Beside("ask.pem"),
            "--reference-values", references, "--trust", Path.Combine(keys, "ca.pem"), "--report-data", ReportData);
        Assert.True(verified.Exit == 0, verified.Stdout + verified.Stderr);
        Assert.Contains("ok   chain: VCEK ← certificate 'SEV-Milan' (serial 02) ← certificate 'ARK-Milan' (serial 01)", verified.Stdout);
        Assert.Contains($"ok   measurement: MEASUREMENT {measured} is a reference value", verified.Stdout);
        Assert.Contains("ok   policy.report-data: REPORT_DATA is as expected", verified.Stdout);

        // Reference values for another command line (another hashes table, so another launch digest) do not accept it.
        string other = Path.Combine(dir.Path, "other.json");
        Assert.Equal(0, CliRunner.Run("reference-values", Variant(dir, "nokaslr", "nokaslr quiet"), "--out", other).Exit);
        var rejected = CliRunner.Run("verify-evidence", reportPath, "--root", Beside("ark.pem"), "--reference-values", other);
        Assert.Equal(1, rejected.Exit);
        Assert.Contains($"FAIL measurement: MEASUREMENT {measured} is not among the 1 reference value(s)", rejected.Stdout);
    }

    [Fact]
    public void AServedCommandLineOtherThanTheMeasuredOne_TheFirmwareRefuses_WithReason2Slash8() =>
        AssertRefused("--serve-cmdline", Cmdline + " init=/bin/sh", 8, "the command line's SHA-256 is not the one in the measured hashes table");

    [Fact]
    public void AServedInitrdWithOneByteChanged_TheFirmwareRefuses_WithReason2Slash7()
    {
        using var dir = new TempDir();
        string initrd = Path.Combine(RepoPaths.Root, "initramfs", "bin", "initramfs-snp.cpio.gz");
        AssertRefused("--serve-initrd", OneByteChanged(dir, initrd, at: new FileInfo(initrd).Length / 2), 7, "the initrd's SHA-256 is not the one in the measured hashes table");
    }

    [Fact]
    public void AServedKernelWithOneByteChanged_TheFirmwareRefuses_WithReason2Slash6()
    {
        // The byte is in the compressed payload, past the setup header.
        using var dir = new TempDir();
        AssertRefused("--serve-kernel", OneByteChanged(dir, RepoPaths.DebianKernel, at: new FileInfo(RepoPaths.DebianKernel).Length - 0x1000), 6, "the kernel's SHA-256 is not the one in the measured hashes table");
    }

    /// <summary>
    /// The VMM serves <paramref name="value"/> in place of what it measured: the firmware refuses before Linux runs,
    /// with reason set 2 and <paramref name="code"/>, and the spec's measurement is unchanged.
    /// </summary>
    private static void AssertRefused(string option, string value, int code, string why)
    {
        var result = CliRunner.Run("launch", Spec, "--timeout", "300", option, value);
        Assert.Equal(1, result.Exit);
        Assert.Contains($"linux-snp: REFUSED (termination reason 2/{code}): {why}", result.Stdout);
        Assert.DoesNotContain("Linux version", result.Stdout);
        Assert.EndsWith($"the SEV guest asked to terminate: reason set 2, code {code}", result.ErrorLine);
        Assert.Equal(SevSnpMeasureDigest, CliRunner.Run("measure", Spec).Stdout.Trim());
    }

    /// <summary>A copy of <paramref name="source"/> in <paramref name="dir"/> with the byte at <paramref name="at"/> flipped.</summary>
    private static string OneByteChanged(TempDir dir, string source, long at)
    {
        byte[] bytes = File.ReadAllBytes(source);
        bytes[at] ^= 0x01;
        return dir.Write(Path.GetFileName(source), bytes);
    }

    [Fact]
    public void ServedBlobsForASpecThatIsNotSnpDirectBoot_AreAnInputError()
    {
        var result = CliRunner.Run("launch", RepoPaths.LaunchSpec("linux-tdx.yaml"), "--serve-cmdline", "console=ttyS0 init=/bin/sh");
        Assert.Equal(2, result.Exit);
        Assert.EndsWith("this spec is not an SNP spec with a measured kernel", result.ErrorLine);
    }

    [Fact]
    public void AnSnpDirectBootKernelThatIsNoBzImage_LaunchSaysWhyInOneLine_ExitTwo()
    {
        // fw_cfg serves the kernel split at its setup header; the synthetic 1 MiB kernel of snp-direct-boot.yaml has none.
        var result = CliRunner.Run("launch", RepoPaths.LaunchSpec("snp-direct-boot.yaml"));
        Assert.Equal(2, result.Exit);
        Assert.EndsWith("kernel_1MiB.bin: boot_flag: 0x0908, not 0xaa55: not an x86 boot image", result.ErrorLine, StringComparison.Ordinal);
    }

    /// <summary>The shipped spec with one line changed, written into <paramref name="dir"/> with its paths made absolute.</summary>
    private static string Variant(TempDir dir, string text, string replacement) =>
        dir.Write("linux-snp.yaml", File.ReadAllText(Spec).Replace(text, replacement, StringComparison.Ordinal)
            .Replace("../", RepoPaths.Root.TrimEnd('/') + "/", StringComparison.Ordinal));
}
