using CocoLaunch.Formats.Linux;
using CocoLaunch.Tests.Shared;
using CocoLaunch.Vmm.Boot;

namespace CocoLaunch.Vmm.Tests;

/// <summary>
/// The layout of a direct boot of Debian's 6.12 cloud kernel (vendored in linux/). The boot itself runs once, through
/// the CLI, in LinuxLaunchTests.
/// </summary>
public sealed class LinuxBootTests
{
    private static BzImage Kernel() => BzImage.Parse(File.ReadAllBytes(RepoPaths.DebianKernel));

    [Fact]
    public void Layout_TooLittleRam_InitrdOrCommandLine_OneLineErrors()
    {
        var kernel = Kernel();
        Assert.StartsWith("the kernel needs RAM up to 0x47dd000", Assert.Throws<LinuxBootException>(() => LinuxBoot.Plan(kernel, 0, "", 64UL << 20)).Message);
        Assert.StartsWith("the 134217728-byte initrd does not fit", Assert.Throws<LinuxBootException>(() => LinuxBoot.Plan(kernel, 128UL << 20, "", 128UL << 20)).Message);
        Assert.StartsWith("the command line has 2048 characters; this kernel takes at most 2047", Assert.Throws<LinuxBootException>(() => LinuxBoot.Plan(kernel, 0, new string('a', 2048), 128UL << 20)).Message);
    }

    [Fact]
    public void Plan_KernelAtPrefAddress_InitrdBelowInitrdAddrMax_E820()
    {
        var layout = LinuxBoot.Plan(Kernel(), 0x4A961, "console=ttyS0", 5UL << 30);
        Assert.Equal(0x100_0000UL, layout.KernelGpa); // pref_address: startup_64 then needs no move
        Assert.Equal(0x8000_0000UL - 0x4B000, layout.InitrdGpa); // below initrd_addr_max 0x7FFFFFFF, not the 3 GiB top
        Assert.Equal(
            [new E820Entry(0, 0x9_FC00, 1), new E820Entry(0x10_0000, 0xC000_0000 - 0x10_0000, 1), new E820Entry(0x1_0000_0000, 0x8000_0000, 1)],
            layout.E820);
    }
}
