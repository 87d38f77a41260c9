using System.Text.RegularExpressions;
using CocoLaunch.Tests.Shared;

namespace CocoLaunch.Cli.Tests;

/// <summary>
/// <c>cocolaunch launch launch-specs/ovmf-linux.yaml</c> (issue 20, the default VM): Debian's OVMF 2022.11 runs SEC,
/// PEI, DXE and BDS on the q35 devices, installs the ACPI tables it downloads through fw_cfg's table-loader, loads
/// the kernel, initrd and command line from fw_cfg and starts the kernel's EFI stub; Linux finds the tables through
/// the EFI configuration table, runs our init and powers off through the FADT. The oracle is QEMU 7.2 TCG's console
/// on the same files (tests/data/ovmf-linux/README.md).
/// </summary>
public sealed class OvmfLinuxLaunchTests
{
    [Fact]
    public void DebianOvmf_DirectBootsTheKernelToInit_WithTheConsoleQemuPrints()
    {
        string qemu = File.ReadAllText(Path.Combine(RepoPaths.Root, "tests", "data", "ovmf-linux", "qemu-7.2-tcg-console.txt"));
        // About 2.9 G instructions: 18-20 s in a Release build, several times that in a Debug test run on 2 busy cores.
        var result = CliRunner.Run("launch", RepoPaths.LaunchSpec("ovmf-linux.yaml"), "--timeout", "1200");
        Assert.True(result.Exit == 0, $"exit {result.Exit}: {result.Stderr}\n{string.Join('\n', result.Stdout.Split('\n').TakeLast(15))}");

        // Everything OVMF prints (its terminal driver's screen clears) and the EFI stub's first line, byte for byte.
        string stub = "EFI stub: Loaded initrd from LINUX_EFI_INITRD_MEDIA_GUID device path\r\n";
        Assert.Equal(qemu[..(qemu.IndexOf(stub, StringComparison.Ordinal) + stub.Length)], result.Stdout[..Math.Min(result.Stdout.Length, qemu.IndexOf(stub, StringComparison.Ordinal) + stub.Length)]);

        var ours = Lines(result.Stdout);
        Assert.Contains(ours, l => l.StartsWith("efi: ACPI=0x", StringComparison.Ordinal)); // the tables OVMF installed
        Assert.Contains(ours, l => l.StartsWith("ACPI: FACP ", StringComparison.Ordinal));
        // The init's lines and the power-off, as QEMU printed them; a child's PID depends on the kernel threads before it.
        Assert.Equal(InitToEnd(Lines(qemu)), InitToEnd(ours));
    }

    private static List<string> Lines(string console) =>
        console.Split('\n').Select(l => l.TrimEnd('\r')).Select(l => l.Length > 15 && l[0] == '[' ? l[15..] : l).ToList();

    private static List<string> InitToEnd(List<string> lines) =>
        lines.Skip(lines.IndexOf("Run /init as init process")).Select(l => Regex.Replace(l, @"^cocolaunch-init: child \d+ ", "cocolaunch-init: child PID ")).ToList();
}
