using CocoLaunch.Vmm.Devices;

namespace CocoLaunch.Vmm.Tests.Devices;

public sealed class Pic8259PairTests
{
    private readonly Pic8259Pair pic = new();

    private void Out(ushort port, byte value) => pic.Write(port, 1, value);

    private byte In(ushort port) => (byte)pic.Read(port, 1);

    /// <summary>init_8259A in arch/x86/kernel/i8259.c: vectors 0x30 and 0x38, slave on IR2, normal EOI.</summary>
    private void InitLikeLinux()
    {
        Out(0x21, 0xFF);
        Out(0xA1, 0xFF);
        Out(0x20, 0x11);
        Out(0x21, 0x30);
        Out(0x21, 0x04);
        Out(0x21, 0x01);
        Out(0xA0, 0x11);
        Out(0xA1, 0x38);
        Out(0xA1, 0x02);
        Out(0xA1, 0x01);
        Out(0x21, 0x00);
        Out(0xA1, 0x00);
    }

    [Fact]
    public void Imr_ReadsBack_AsProbe8259AChecks()
    {
        Out(0xA1, 0xFF);
        Out(0x21, 0xFB);
        Assert.Equal(0xFB, In(0x21));
        Assert.Equal(0xFF, In(0xA1));
    }

    [Fact]
    public void InitialisationSequence_SetsVectorBases_AndClearsMasks()
    {
        InitLikeLinux();
        pic.SetLevel(0, true);
        Assert.Equal(0x30, pic.Acknowledge());
        pic.SetLevel(14, true);
        Out(0x20, 0x20);
        Assert.Equal(0x3E, pic.Acknowledge());
    }

    [Fact]
    public void Icw1_ClearsImr()
    {
        Out(0x21, 0xFF);
        Out(0x20, 0x11);
        Assert.Equal(0x00, In(0x21));
    }

    [Fact]
    public void Acknowledge_PicksTheLowestUnmaskedLine_AndNullWhenNothingPends()
    {
        InitLikeLinux();
        Assert.Null(pic.Acknowledge());
        Assert.False(pic.OutputAsserted);
        Out(0x21, 0x08);
        pic.SetLevel(3, true);
        pic.SetLevel(5, true);
        Assert.True(pic.OutputAsserted);
        Assert.Equal(0x35, pic.Acknowledge());
    }

    [Fact]
    public void InService_BlocksEqualAndLowerPriority_UntilEoi()
    {
        InitLikeLinux();
        pic.SetLevel(4, true);
        Assert.Equal(0x34, pic.Acknowledge());
        pic.SetLevel(6, true);
        Assert.False(pic.OutputAsserted);
        pic.SetLevel(1, true);
        Assert.Equal(0x31, pic.Acknowledge());

        Out(0x20, 0x61); // specific EOI for IR1
        Assert.False(pic.OutputAsserted);
        Out(0x20, 0x20); // non-specific EOI retires IR4
        Assert.Equal(0x36, pic.Acknowledge());
    }

    [Fact]
    public void Ocw3_SelectsIrrOrIsrOnTheCommandPort()
    {
        InitLikeLinux();
        pic.SetLevel(3, true);
        pic.SetLevel(5, true);
        Assert.Equal(0x28, In(0x20));
        pic.Acknowledge();
        Out(0x20, 0x0B);
        Assert.Equal(0x08, In(0x20));
        Out(0x20, 0x0A);
        Assert.Equal(0x20, In(0x20));
    }

    [Fact]
    public void SlaveRequest_GoesThroughTheMastersIr2()
    {
        InitLikeLinux();
        pic.SetLevel(12, true);
        Assert.Equal(0x04, In(0x20));
        Assert.Equal(0x3C, pic.Acknowledge());
        Out(0x20, 0x0B);
        Assert.Equal(0x04, In(0x20));
        Out(0xA0, 0x0B);
        Assert.Equal(0x10, In(0xA0));

        // mask_and_ack_8259A: specific EOI to the slave, then to the master's cascade line.
        Out(0xA0, 0x64);
        Out(0x20, 0x62);
        Assert.Equal(0, In(0x20));
        Assert.Equal(0, In(0xA0));
    }

    [Fact]
    public void MaskedSlaveRequest_IsDeliveredWhenUnmasked()
    {
        InitLikeLinux();
        Out(0xA1, 0x01);
        pic.SetLevel(8, true);
        Assert.False(pic.OutputAsserted);
        Out(0xA1, 0x00);
        Assert.Equal(0x38, pic.Acknowledge());
    }

    [Fact]
    public void EdgeLines_NeedANewRisingEdge()
    {
        InitLikeLinux();
        pic.SetLevel(3, true);
        pic.Acknowledge();
        Out(0x20, 0x20);
        pic.SetLevel(3, true);
        Assert.False(pic.OutputAsserted);
        pic.SetLevel(3, false);
        pic.SetLevel(3, true);
        Assert.True(pic.OutputAsserted);
    }

    [Fact]
    public void Elcr_LevelLinesStayRequestedWhileHigh_ReservedBitsReadZero()
    {
        InitLikeLinux();
        Out(0x4D0, 0xFF);
        Out(0x4D1, 0xFF);
        Assert.Equal(0xF8, In(0x4D0));
        Assert.Equal(0xDE, In(0x4D1));

        pic.SetLevel(5, true);
        Assert.Equal(0x35, pic.Acknowledge());
        Out(0x20, 0x20);
        Assert.Equal(0x35, pic.Acknowledge());
        Out(0x20, 0x20);
        pic.SetLevel(5, false);
        Assert.Null(pic.Acknowledge());
    }

    [Fact]
    public void AutoEoi_LeavesNothingInService()
    {
        Out(0x20, 0x11);
        Out(0x21, 0x30);
        Out(0x21, 0x04);
        Out(0x21, 0x03);
        pic.SetLevel(1, true);
        Assert.Equal(0x31, pic.Acknowledge());
        Out(0x20, 0x0B);
        Assert.Equal(0, In(0x20));
    }

    [Fact]
    public void OutOfRangeLinesAndPorts_AreIgnored()
    {
        pic.SetLevel(2, true);
        pic.SetLevel(16, true);
        pic.SetLevel(-3, true);
        Assert.False(pic.OutputAsserted);
        Assert.Equal(0xFFu, pic.Read(0x22, 1));
        pic.Write(0x22, 1, 0);
    }
}
