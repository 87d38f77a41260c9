using System.Buffers.Binary;
using CocoLaunch.Formats.Linux;
using CocoLaunch.Tests.Shared;

namespace CocoLaunch.Formats.Tests;

/// <summary>The bzImage setup header of Debian's 6.12 cloud kernel, and the boot protocol's checks on corrupt headers.</summary>
public sealed class BzImageTests
{
    private static byte[] Kernel() => File.ReadAllBytes(RepoPaths.DebianKernel);

    /// <summary>Expected values: shared/spec/linux-guest.md §2 "The image", measured from the .deb.</summary>
    [Fact]
    public void DebianCloudKernel_SetupHeader()
    {
        var image = Kernel();
        var k = BzImage.Parse(image);
        Assert.Equal((39, (ushort)0x020F, (byte)0x01, (ushort)0x7F), (k.SetupSects, k.Version, k.LoadFlags, k.XLoadFlags));
        Assert.Equal((0x20_0000u, 0x100_0000UL, 0x37D_D000u), (k.KernelAlignment, k.PrefAddress, k.InitSize));
        Assert.Equal((0x7FFF_FFFFu, 0x7FFu, true), (k.InitrdAddrMax, k.CmdlineSize, k.Relocatable));
        Assert.Equal(0x26C - 0x1F1, k.SetupHeader.Length); // the header ends at 0x202 + byte[0x201] = 0x26C
        Assert.Equal(image.Length - 0x5000, k.ProtectedModeKernel.Length); // 39 setup sectors: pm code at 0x5000
        Assert.Equal("2.15", k.VersionText);
    }

    [Theory]
    [InlineData(0x1FE, 0x00, "boot_flag")]
    [InlineData(0x202, 0x00, "header")]
    [InlineData(0x207, 0x02, "version")] // 0x020F → 0x0200 (high byte written 0x02, low byte below)
    [InlineData(0x236, 0x00, "xloadflags")]
    [InlineData(0x211, 0x00, "loadflags")]
    [InlineData(0x1F1, 0xFF, "setup_sects")]
    public void CorruptHeader_NamesTheField(int offset, byte value, string field)
    {
        var image = Kernel();
        image[offset] = value;
        if (field == "version")
        {
            image[0x206] = 0x00;
        }

        if (field == "setup_sects")
        {
            image = image[..0x20000]; // 255 setup sectors would start past a truncated file
        }

        var e = Assert.Throws<KernelFormatException>(() => BzImage.Parse(image));
        Assert.Equal(field, e.Field);
    }

    [Fact]
    public void TooShortOrNotPowerOfTwoAlignment_Refused()
    {
        Assert.Equal("setup header", Assert.Throws<KernelFormatException>(() => BzImage.Parse(new byte[0x100])).Field);
        var image = Kernel();
        BinaryPrimitives.WriteUInt32LittleEndian(image.AsSpan(0x230), 0x30_0000);
        Assert.Equal("kernel_alignment", Assert.Throws<KernelFormatException>(() => BzImage.Parse(image)).Field);
        image = Kernel();
        BinaryPrimitives.WriteUInt32LittleEndian(image.AsSpan(0x260), 0x1000);
        Assert.Equal("init_size", Assert.Throws<KernelFormatException>(() => BzImage.Parse(image)).Field);
    }
}
