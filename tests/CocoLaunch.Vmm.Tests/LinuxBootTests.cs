using System.Text;
using CocoLaunch.Formats.Linux;
using CocoLaunch.Tests.Shared;
using CocoLaunch.Vmm.Boot;

namespace CocoLaunch.Vmm.Tests;

/// <summary>
/// Direct boot of Debian's 6.12 cloud kernel (vendored in linux/) through the 64-bit boot protocol, on the emulated CPU.
/// The expected console lines come from the same kernel under QEMU 7.2 (linux/debian-linux-image-6.12.101-1~deb12u1/README.md).
/// </summary>
public sealed class LinuxBootTests
{
    /// <summary>The banner QEMU 7.2 TCG printed for this kernel, byte for byte.</summary>
    private const string Banner = "Linux version 6.12.101+deb12-cloud-amd64 (debian-kernel@lists.debian.org) (x86_64-linux-gnu-gcc-12 (Debian 12.2.0-14+deb12u1) 12.2.0, GNU ld (GNU Binutils for Debian) 2.40) #1 SMP PREEMPT_DYNAMIC Debian 6.12.101-1~deb12u1 (2026-08-10)";

    private static BzImage Kernel() => BzImage.Parse(File.ReadAllBytes(RepoPaths.DebianKernel));

    /// <summary>
    /// The decompressor runs, the kernel starts at its 64-bit entry, and its early console prints the banner, our
    /// command line and the e820 map we built. The boot does not reach init yet: it waits for a timer interrupt that
    /// no device delivers (issue 14's devices), so the run is bounded by instructions.
    /// </summary>
    [Fact]
    public void DebianKernel_EarlyConsole_BannerCommandLineAndE820()
    {
        const string cmdline = "console=ttyS0 earlyprintk=serial,ttyS0,115200";
        using var console = new MemoryStream();
        var result = LinuxBoot.Run(Kernel(), File.ReadAllBytes(RepoPaths.TestInitramfs), cmdline, 256UL << 20, console, 900_000_000, TimeSpan.FromMinutes(5));
        var lines = Encoding.Latin1.GetString(console.ToArray()).Split('\n').Select(l => l.TrimEnd('\r')).Select(l => l.Length > 15 && l[0] == '[' ? l[15..] : l).ToList();
        Assert.Contains(Banner, lines);
        Assert.Contains("Command line: " + cmdline, lines);
        Assert.Contains("BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable", lines); // as QEMU's first entry
        Assert.Contains("BIOS-e820: [mem 0x0000000000100000-0x000000000fffffff] usable", lines);
        Assert.Contains("RAMDISK: [mem 0x0ffb5000-0x0fffffff]", lines); // the 305,505-byte initrd at the top of 256 MiB
        Assert.True(result.Instructions > 100_000_000, $"{result.Instructions} instructions");
    }

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
