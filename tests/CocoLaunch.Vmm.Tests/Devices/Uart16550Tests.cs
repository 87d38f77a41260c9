using CocoLaunch.Vmm.Devices;

namespace CocoLaunch.Vmm.Tests.Devices;

public sealed class Uart16550Tests
{
    private const ushort Thr = 0x3F8;
    private const ushort Ier = 0x3F9;
    private const ushort Iir = 0x3FA;
    private const ushort Lcr = 0x3FB;
    private const ushort Mcr = 0x3FC;
    private const ushort Lsr = 0x3FD;
    private const ushort Msr = 0x3FE;
    private const ushort Scr = 0x3FF;

    private readonly MemoryStream output = new();
    private readonly RecordingLines lines = new();
    private readonly Uart16550 uart;

    public Uart16550Tests()
    {
        uart = new Uart16550(output, lines);
    }

    private byte In(ushort port) => (byte)uart.Read(port, 1);

    private void Out(ushort port, byte value) => uart.Write(port, 1, value);

    [Fact]
    public void Ier_KeepsOnlyTheFourEnables_AsAutoconfigChecks()
    {
        Out(Ier, 0);
        Assert.Equal(0, In(Ier));
        Out(Ier, 0xFF);
        Assert.Equal(0x0F, In(Ier));
    }

    [Fact]
    public void Fcr_FifoEnable_MakesIirReport16550A()
    {
        Assert.Equal(0x01, In(Iir));
        Out(Iir, 0x01);
        Assert.Equal(0b11, In(Iir) >> 6);
        Out(Iir, 0x00);
        Assert.Equal(0x01, In(Iir));
    }

    [Fact]
    public void Fcr_ClearReceiver_DropsQueuedInput()
    {
        Out(Iir, 0x01);
        uart.Receive("ab"u8);
        Out(Iir, 0x03);
        Assert.Equal(0, In(Lsr) & 0x01);
    }

    [Fact]
    public void Lcr_Dlab_SwitchesThrAndIerToTheDivisorLatch()
    {
        Out(Lcr, 0x83);
        Out(Thr, 0x01);
        Out(Ier, 0x00);
        Assert.Equal(0x01, In(Thr));
        Assert.Equal(0x00, In(Ier));
        Assert.Equal(0x83, In(Lcr));
        Assert.Equal(0, output.Length);

        Out(Lcr, 0x03);
        Out(Ier, 0x05);
        Assert.Equal(0x05, In(Ier));
        Out(Lcr, 0x83);
        Assert.Equal(0x01, In(Thr));
    }

    [Fact]
    public void Thr_BytesGoToTheOutputInOrder()
    {
        foreach (byte b in "hi\n"u8)
        {
            Out(Thr, b);
        }

        Assert.Equal("hi\n"u8.ToArray(), output.ToArray());
    }

    [Fact]
    public void Lsr_TransmitterAlwaysEmpty_DataReadyWhileInputQueued()
    {
        Assert.Equal(0x60, In(Lsr));
        uart.Receive("x"u8);
        Assert.Equal(0x61, In(Lsr));
        Assert.Equal((byte)'x', In(Thr));
        Assert.Equal(0x60, In(Lsr));
        Assert.Equal(0, In(Thr));
    }

    [Fact]
    public void Rbr_ReceivedData_InterruptsWhenEnabled()
    {
        Out(Ier, 0x01);
        Assert.Empty(lines.Changes);
        uart.Receive("z"u8);
        Assert.Equal([(4, true)], lines.Changes);
        Assert.Equal(0x04, In(Iir) & 0x0F);
        Assert.Equal((byte)'z', In(Thr));
        Assert.Equal([(4, true), (4, false)], lines.Changes);
        Assert.Equal(0x01, In(Iir));
    }

    [Fact]
    public void ThrEmpty_RaisedByEnabling_ClearedByIirRead_ReassertedByToggle()
    {
        // serial8250_do_startup's UART_BUG_THRE test.
        Out(Ier, 0x02);
        Assert.True(lines.IsAsserted(4));
        Assert.Equal(0x02, In(Iir));
        Assert.False(lines.IsAsserted(4));
        Assert.Equal(0x01, In(Iir));

        Out(Ier, 0x00);
        Out(Ier, 0x02);
        Assert.Equal(0x02, In(Iir));
    }

    [Fact]
    public void ThrEmpty_RearmsAfterEachTransmittedByte()
    {
        Out(Ier, 0x02);
        Assert.Equal(0x02, In(Iir));
        Out(Thr, (byte)'a');
        Assert.Equal(0x02, In(Iir));
        Assert.Equal([(4, true), (4, false), (4, true), (4, false)], lines.Changes);
    }

    [Fact]
    public void Iir_ReceivedDataOutranksThrEmpty()
    {
        Out(Ier, 0x03);
        uart.Receive("q"u8);
        Assert.Equal(0x04, In(Iir));
        In(Thr);
        Assert.Equal(0x02, In(Iir));
    }

    [Fact]
    public void Mcr_Loopback_ReflectsOutputsInMsr_AsAutoconfigChecks()
    {
        Assert.Equal(0xB0, In(Msr) & 0xF0);
        Out(Mcr, 0x10 | 0x08 | 0x02);
        Assert.Equal(0x90, In(Msr) & 0xF0);
        Out(Mcr, 0x10 | 0x04 | 0x01);
        Assert.Equal(0x60, In(Msr) & 0xF0);
        Assert.Equal(0x15, In(Mcr));
        Out(Mcr, 0xFF);
        Assert.Equal(0x1F, In(Mcr));
    }

    [Fact]
    public void Msr_DeltaBits_SetOnChangeClearedOnRead_RaiseModemStatusInterrupt()
    {
        Out(Ier, 0x08);
        Out(Mcr, 0x10 | 0x04);
        Assert.Equal(0x00, In(Iir));
        byte msr = In(Msr);
        Assert.Equal(0x40, msr & 0xF0);
        Assert.Equal(0x0B, msr & 0x0F); // DCTS, DDSR, DDCD: the lines dropped on entering loopback
        Assert.Equal(0x01, In(Iir));

        Out(Mcr, 0x10);
        Assert.Equal(0x04, In(Msr) & 0x0F); // TERI: RI went from 1 to 0
    }

    [Fact]
    public void Mcr_Loopback_TransmittedBytesComeBackOnRbr()
    {
        Out(Mcr, 0x10);
        Out(Thr, 0x5A);
        Assert.Equal(0, output.Length);
        Assert.Equal(0x61, In(Lsr));
        Assert.Equal(0x5A, In(Thr));
    }

    [Fact]
    public void Scr_IsScratch()
    {
        Out(Scr, 0xA5);
        Assert.Equal(0xA5, In(Scr));
    }

    [Fact]
    public void LsrAndMsrWrites_AreIgnored()
    {
        Out(Lsr, 0x00);
        Out(Msr, 0xFF);
        Assert.Equal(0x60, In(Lsr));
        Assert.Equal(0xB0, In(Msr));
    }

    [Fact]
    public void Gsi_IsTheConstructorsLine()
    {
        var com2 = new Uart16550(output, lines, gsi: 3);
        com2.Write(0x2F9, 1, 0x02);
        Assert.Equal([(3, true)], lines.Changes);
    }

    [Fact]
    public void BrokenOutput_DropsBytesWithoutThrowing()
    {
        var broken = new Uart16550(new BrokenStream(), lines);
        broken.Write(Thr, 1, (byte)'x');
        Assert.True(broken.OutputFailed);
        broken.Write(Thr, 1, (byte)'y');
    }

    private sealed class BrokenStream : MemoryStream
    {
        public override void WriteByte(byte value) => throw new IOException("pipe closed");
    }
}
