using CocoLaunch.Vmm.Devices;

namespace CocoLaunch.Vmm.Tests.Devices;

/// <summary>
/// The 8042 through the sequence Linux 6.12's drivers/input/serio/i8042.c and atkbd.c run on it: read and write the
/// command byte, the AUX loopback with its IRQ 12, then the keyboard's identify and enable, answered with IRQ 1.
/// </summary>
public sealed class I8042Tests
{
    private const byte OutputFull = 0x01, AuxData = 0x20;

    private readonly RecordingLines lines = new();
    private readonly ResetPorts reset = new();
    private readonly I8042 kbc;

    public I8042Tests() => kbc = new I8042(lines, reset);

    private int Pulses(int gsi) => lines.Changes.Count(c => c.Gsi == gsi && c.Asserted);

    private List<byte> Drain()
    {
        var bytes = new List<byte>();
        while ((kbc.Read(I8042.Command, 1) & OutputFull) != 0)
        {
            bytes.Add((byte)kbc.Read(I8042.Data, 1));
        }

        return bytes;
    }

    [Fact]
    public void CommandByte_ReadsBackWhatIsWritten_AndEmptyBufferReadsNoOutput()
    {
        Assert.Equal(0u, kbc.Read(I8042.Command, 1) & OutputFull); // i8042_flush finds nothing to drain
        kbc.Write(I8042.Command, 1, 0x20);
        Assert.Equal([(byte)0x47], Drain()); // QEMU's: both interrupts, system flag, translation
        kbc.Write(I8042.Command, 1, 0x60);
        kbc.Write(I8042.Data, 1, 0x44); // interrupts off, translation on
        kbc.Write(I8042.Command, 1, 0x20);
        Assert.Equal([(byte)0x44], Drain());
        kbc.Write(I8042.Command, 1, 0xAA);
        Assert.Equal([(byte)0x55], Drain());
    }

    [Fact]
    public void AuxLoopback_ComesBackAsMouseData_OnIrq12WhenEnabled()
    {
        kbc.Write(I8042.Command, 1, 0xD3);
        kbc.Write(I8042.Data, 1, 0x5A);
        Assert.Equal((uint)(OutputFull | AuxData), kbc.Read(I8042.Command, 1) & (OutputFull | AuxData));
        Assert.Equal(0x5Au, kbc.Read(I8042.Data, 1));
        Assert.Equal(1, Pulses(I8042.MouseIrq));

        kbc.Write(I8042.Command, 1, 0xA7); // disable AUX: the command byte says so
        kbc.Write(I8042.Command, 1, 0x20);
        Assert.Equal(0x20, Drain()[0] & 0x20);
    }

    [Fact]
    public void Keyboard_AcknowledgesAndIdentifiesAsATranslatedMf2_OneIrq1PerByte()
    {
        kbc.Write(I8042.Data, 1, 0xF2); // ATKBD_CMD_GETID
        Assert.Equal(1, Pulses(I8042.KeyboardIrq)); // the ACK at the head
        Assert.Equal([(byte)0xFA, 0xAB, 0x41], Drain());
        Assert.Equal(3, Pulses(I8042.KeyboardIrq)); // each next byte raises it again
        kbc.Write(I8042.Data, 1, 0xED); // set LEDs, then its parameter
        kbc.Write(I8042.Data, 1, 0x00);
        Assert.Equal([(byte)0xFA, 0xFA], Drain());
    }

    [Fact]
    public void PulseResetCommand_RequestsAReset()
    {
        kbc.Write(I8042.Command, 1, 0xFE);
        Assert.True(reset.ResetRequested);
    }
}
