using CocoLaunch.Vmm.Devices;

namespace CocoLaunch.Vmm.Tests.Devices;

public sealed class PowerAndResetPortsTests
{
    [Fact]
    public void AcpiSleepControl_S5PowersOff()
    {
        var power = new AcpiPowerPorts();
        power.Write(0x600, 1, (5 << 2) & 0x1C); // SLP_TYP without SLP_EN
        Assert.False(power.PoweredOff);
        power.Write(0x600, 1, 0x34);
        Assert.True(power.PoweredOff);
        Assert.False(power.ResetRequested);
        Assert.Equal(0u, power.Read(0x600, 1));
    }

    [Fact]
    public void AcpiSleepControl_OtherSleepStatesDoNothing()
    {
        var power = new AcpiPowerPorts();
        power.Write(0x600, 1, (3 << 2) | 0x20);
        Assert.False(power.PoweredOff);
    }

    [Fact]
    public void AcpiResetRegister_ResetValueRequestsReset()
    {
        var power = new AcpiPowerPorts();
        power.Write(0x600, 1, AcpiPowerPorts.ResetValue);
        Assert.True(power.ResetRequested);
        Assert.False(power.PoweredOff);
    }

    [Theory]
    [InlineData(0x06)]
    [InlineData(0x0E)]
    public void ResetControl_RstCpuResets(byte value)
    {
        var reset = new ResetPorts();
        reset.Write(0xCF9, 1, 0x02);
        Assert.False(reset.ResetRequested);
        Assert.Equal(0x02u, reset.Read(0xCF9, 1));
        reset.Write(0xCF9, 1, value);
        Assert.True(reset.ResetRequested);
    }

    [Fact]
    public void KeyboardController_PulseResetCommand_StatusReadsZero()
    {
        var reset = new ResetPorts();
        Assert.Equal(0u, reset.Read(0x64, 1));
        reset.Write(0x64, 1, 0xAA);
        Assert.False(reset.ResetRequested);
        reset.Write(0x64, 1, 0xFE);
        Assert.True(reset.ResetRequested);
    }

    [Fact]
    public void NullPort_IgnoresWrites_ReadsAllOnes()
    {
        var port = new NullPort();
        port.Write(0x80, 1, 0x12);
        Assert.Equal(0xFFu, port.Read(0x80, 1));
        Assert.Equal(0xFFFF_FFFFu, port.Read(0x80, 4));
    }
}
