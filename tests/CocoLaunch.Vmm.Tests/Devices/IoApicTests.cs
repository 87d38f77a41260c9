using CocoLaunch.Vmm.Devices;

namespace CocoLaunch.Vmm.Tests.Devices;

public sealed class IoApicTests
{
    private readonly List<MsiMessage> sent = [];
    private readonly IoApic ioapic;

    public IoApicTests()
    {
        ioapic = new IoApic(sent.Add);
    }

    private uint ReadRegister(byte index)
    {
        ioapic.Write(0x00, 4, index);
        return (uint)ioapic.Read(0x10, 4);
    }

    private void WriteRegister(byte index, uint value)
    {
        ioapic.Write(0x00, 4, index);
        ioapic.Write(0x10, 4, value);
    }

    private void Route(int pin, ulong rte)
    {
        WriteRegister((byte)(0x11 + (2 * pin)), (uint)(rte >> 32));
        WriteRegister((byte)(0x10 + (2 * pin)), (uint)rte);
    }

    [Fact]
    public void Version_Is82093AAWith24Entries()
    {
        Assert.Equal(0x0017_0011u, ReadRegister(0x01));
        WriteRegister(0x01, 0);
        Assert.Equal(0x0017_0011u, ReadRegister(0x01));
    }

    [Fact]
    public void Id_Bits27To24Writable_ArbitrationFollowsIt()
    {
        Assert.Equal(0u, ReadRegister(0x00));
        WriteRegister(0x00, 0xFFFF_FFFF);
        Assert.Equal(0x0F00_0000u, ReadRegister(0x00));
        Assert.Equal(0x0F00_0000u, ReadRegister(0x02));
        Assert.Equal(0x0200_0000u, (uint)new IoApic(_ => { }, id: 2).Read(0x10, 4));
    }

    [Fact]
    public void IoRegSel_ReadsBack()
    {
        ioapic.Write(0x00, 4, 0x17);
        Assert.Equal(0x17UL, ioapic.Read(0x00, 4));
        Assert.Equal(0UL, ioapic.Read(0x20, 4));
    }

    [Fact]
    public void RedirectionEntries_StartMasked_AndReadBackWithoutReadOnlyBits()
    {
        for (int pin = 0; pin < IoApic.Pins; pin++)
        {
            Assert.Equal(0x0001_0000u, ReadRegister((byte)(0x10 + (2 * pin))));
        }

        WriteRegister(0x12, 0xFFFF_FFFF);
        Assert.Equal(0x0001_AFFFu, ReadRegister(0x12)); // delivery status (12) and remote IRR (14) are read-only
        WriteRegister(0x13, 0xFFFF_FFFF);
        Assert.Equal(0xFF00_0000u, ReadRegister(0x13));
        Assert.Equal(0u, ReadRegister(0x40));
    }

    [Fact]
    public void EdgePin_SendsOnRisingEdgeOnly()
    {
        Route(4, (3UL << 56) | 0x24);
        ioapic.SetLevel(4, true);
        ioapic.SetLevel(4, true);
        ioapic.SetLevel(4, false);
        ioapic.SetLevel(4, true);
        Assert.Equal(2, sent.Count);
        Assert.Equal(new MsiMessage(0xFEE0_3000, 0x24), sent[0]);
        Assert.Equal(3, sent[0].Destination);
    }

    [Fact]
    public void MaskedEdge_IsNotHeldPending()
    {
        Route(4, 0x1_0024);
        ioapic.SetLevel(4, true);
        Route(4, 0x24);
        Assert.Empty(sent);
    }

    [Fact]
    public void Msi_CarriesDestinationModeDeliveryModeAndTrigger()
    {
        Route(9, (0x0FUL << 56) | (1UL << 15) | (1UL << 13) | (1UL << 11) | (1UL << 8) | 0x41);
        ioapic.SetLevel(9, true);
        var msi = Assert.Single(sent);
        Assert.Equal(0xFEE0_F004UL, msi.Address);
        Assert.Equal(0x8141u, msi.Data);
        Assert.True(msi.LevelTriggered);
        Assert.Equal(0x41, msi.Vector);
    }

    [Fact]
    public void LevelPin_RemoteIrrHoldsUntilEoi_ThenResendsIfStillAsserted()
    {
        Route(10, (1UL << 15) | 0x50);
        ioapic.SetLevel(10, true);
        Assert.Single(sent);
        Assert.NotEqual(0u, ReadRegister(0x24) & (1u << 14));

        ioapic.SetLevel(10, true);
        Assert.Single(sent);

        ioapic.EndOfInterrupt(0x51);
        Assert.Single(sent);
        ioapic.EndOfInterrupt(0x50);
        Assert.Equal(2, sent.Count);

        ioapic.SetLevel(10, false);
        ioapic.EndOfInterrupt(0x50);
        Assert.Equal(0u, ReadRegister(0x24) & (1u << 14));
        Assert.Equal(2, sent.Count);
    }

    [Fact]
    public void UnmaskingAnAssertedLevelPin_Sends()
    {
        Route(11, (1UL << 16) | (1UL << 15) | 0x60);
        ioapic.SetLevel(11, true);
        Assert.Empty(sent);
        Route(11, (1UL << 15) | 0x60);
        Assert.Single(sent);
    }

    [Fact]
    public void OutOfRangePins_AreIgnored()
    {
        ioapic.SetLevel(24, true);
        ioapic.SetLevel(-1, true);
        Assert.Empty(sent);
    }
}
