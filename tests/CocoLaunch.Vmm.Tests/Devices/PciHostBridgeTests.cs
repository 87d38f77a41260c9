using CocoLaunch.Vmm.Devices;

namespace CocoLaunch.Vmm.Tests.Devices;

public sealed class PciHostBridgeTests
{
    private readonly PciHostBridge pci = new();

    private uint Config(int bus, int device, int function, int offset, int size)
    {
        pci.Write(0xCF8, 4, 0x8000_0000u | (uint)(bus << 16) | (uint)(device << 11) | (uint)(function << 8) | (uint)(offset & 0xFC));
        return pci.Read((ushort)(0xCFC + (offset & 3)), size);
    }

    [Fact]
    public void ConfigAddress_ReadsBack_AsPciCheckType1Expects()
    {
        pci.Write(0xCF8, 4, 0x8000_0000);
        Assert.Equal(0x8000_0000u, pci.Read(0xCF8, 4));
        pci.Write(0xCF8, 4, 0xFFFF_FFFF);
        Assert.Equal(0x80FF_FFFCu, pci.Read(0xCF8, 4));
        pci.Write(0xCF8, 1, 0x01);
        Assert.Equal(0x80FF_FFFCu, pci.Read(0xCF8, 4));
        Assert.Equal(0xFFu, pci.Read(0xCF8, 1));
    }

    [Fact]
    public void HostBridge_IdsClassAndHeader()
    {
        Assert.Equal(0x29C0_8086u, Config(0, 0, 0, 0, 4));
        Assert.Equal(0x8086u, Config(0, 0, 0, 0, 2));
        Assert.Equal(0x29C0u, Config(0, 0, 0, 2, 2));
        Assert.Equal(0x0600_0000u, Config(0, 0, 0, 8, 4));
        Assert.Equal(0x06u, Config(0, 0, 0, 0x0B, 1));
        Assert.Equal(0x00u, Config(0, 0, 0, 0x0E, 1));
        Assert.Equal(0x1100_1AF4u, Config(0, 0, 0, 0x2C, 4));
    }

    [Theory]
    [InlineData(0, 1, 0)]
    [InlineData(0, 0, 1)]
    [InlineData(1, 0, 0)]
    [InlineData(0, 31, 7)]
    public void OtherFunctions_ReadAllOnes(int bus, int device, int function)
    {
        Assert.Equal(0xFFFF_FFFFu, Config(bus, device, function, 0, 4));
        Assert.Equal(0xFFFFu, Config(bus, device, function, 2, 2));
    }

    [Fact]
    public void DisabledAddress_ReadsAllOnes()
    {
        pci.Write(0xCF8, 4, 0);
        Assert.Equal(0xFFFF_FFFFu, pci.Read(0xCFC, 4));
    }

    [Fact]
    public void Command_KeepsOnlyTheEnables_ReadOnlyFieldsIgnoreWrites()
    {
        Config(0, 0, 0, 4, 4);
        pci.Write(0xCFC, 4, 0xFFFF_FFFF);
        Assert.Equal(0x0000_0007u, Config(0, 0, 0, 4, 4));
        Config(0, 0, 0, 0, 4);
        pci.Write(0xCFC, 4, 0);
        pci.Write(0xCFE, 2, 0);
        Assert.Equal(0x29C0_8086u, Config(0, 0, 0, 0, 4));
    }

    [Fact]
    public void ByteAccessAtEachDataPort_SelectsTheByteInTheDword()
    {
        Assert.Equal(0x86u, Config(0, 0, 0, 0, 1));
        Assert.Equal(0x80u, Config(0, 0, 0, 1, 1));
        Assert.Equal(0xC0u, Config(0, 0, 0, 2, 1));
        Assert.Equal(0x29u, Config(0, 0, 0, 3, 1));
    }
}
