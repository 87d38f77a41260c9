using CocoLaunch.Tests.Shared;

namespace CocoLaunch.Cli.Tests;

/// <summary>boot --kernel: a kernel the boot protocol cannot load, or a layout that does not fit, is one line and exit 2.</summary>
public sealed class BootKernelTests
{
    private static string Kernel => RepoPaths.DebianKernel;

    [Fact]
    public void CorruptBootFlag_NamesTheFieldAndOffset()
    {
        using var dir = new TempDir();
        var image = File.ReadAllBytes(Kernel);
        image[0x1FE] = 0;
        string path = dir.Write("bad-vmlinuz", image);
        var result = CliRunner.Run("boot", "--kernel", path);
        Assert.Equal((2, $"cocolaunch: {path}: offset 0x1fe: boot_flag: 0xaa00, not 0xaa55: not an x86 boot image"), (result.Exit, result.ErrorLine));
    }

    [Fact]
    public void InitrdThatDoesNotFit_And_CommandLineTooLong_ExitTwo()
    {
        using var dir = new TempDir();
        string initrd = dir.Write("big-initrd", new byte[100 << 20]);
        var tooBig = CliRunner.Run("boot", "--kernel", Kernel, "--initrd", initrd, "--memory", "128M");
        Assert.Equal(2, tooBig.Exit);
        Assert.StartsWith($"cocolaunch: {Kernel}: the 104857600-byte initrd does not fit", tooBig.ErrorLine);

        var longLine = CliRunner.Run("boot", "--kernel", Kernel, "--cmdline", new string('x', 2048));
        Assert.Equal((2, $"cocolaunch: {Kernel}: the command line has 2048 characters; this kernel takes at most 2047 printable ASCII ones (cmdline_size)"), (longLine.Exit, longLine.ErrorLine));
    }

    [Fact]
    public void InstructionLimit_ExitsOne_NamingTheGuestRip()
    {
        var result = CliRunner.Run("boot", "--kernel", Kernel, "--max-instructions", "1000000");
        Assert.Equal(1, result.Exit);
        Assert.Matches($@"^cocolaunch: {System.Text.RegularExpressions.Regex.Escape(Kernel)}: the guest stopped without powering off: instruction limit reached at RIP 0x[0-9a-f]+$", result.ErrorLine);
    }

    [Fact]
    public void KernelWithFirmwareOrReset_ExitTwo()
    {
        var result = CliRunner.Run("boot", "firmware.fd", "--kernel", Kernel);
        Assert.Equal(2, result.Exit);
        Assert.StartsWith("cocolaunch: --kernel boots a bzImage", result.ErrorLine);
    }
}
