namespace CocoLaunch.Vmm.Devices;

/// <summary>
/// A 16550A UART (National Semiconductor PC16550D datasheet) as Linux's drivers/tty/serial/8250/8250_port.c
/// probes and drives it. Transmission is instantaneous, so THR and the transmitter are always empty; input queued
/// by <see cref="Receive"/> is never lost (the host side is flow-controlled), so no line-status error arises.
/// </summary>
public sealed class Uart16550 : IPortDevice
{
    public const ushort Com1 = 0x3F8;
    public const int Com1Gsi = 4;
    public const int PortCount = 8;

    // Register offsets from the base port (datasheet Table II).
    private const int RbrThrDll = 0;
    private const int IerDlm = 1;
    private const int IirFcr = 2;
    private const int Lcr = 3;
    private const int Mcr = 4;
    private const int Lsr = 5;
    private const int Msr = 6;
    private const int Scr = 7;

    private const byte IerErbfi = 0x01;
    private const byte IerEtbei = 0x02;
    private const byte IerEdssi = 0x08;
    private const byte IerWritable = 0x0F;

    private const byte IirNoInterrupt = 0x01;
    private const byte IirReceivedData = 0x04;
    private const byte IirThrEmpty = 0x02;
    private const byte IirModemStatus = 0x00;
    private const byte IirFifosEnabled = 0xC0;

    private const byte FcrFifoEnable = 0x01;
    private const byte FcrClearReceiver = 0x02;

    private const byte LcrDlab = 0x80;

    private const byte McrDtr = 0x01;
    private const byte McrRts = 0x02;
    private const byte McrOut1 = 0x04;
    private const byte McrOut2 = 0x08;
    private const byte McrLoop = 0x10;
    private const byte McrWritable = 0x1F;

    private const byte LsrDataReady = 0x01;
    private const byte LsrThre = 0x20;
    private const byte LsrTemt = 0x40;

    private const byte MsrDcts = 0x01;
    private const byte MsrDdsr = 0x02;
    private const byte MsrTeri = 0x04;
    private const byte MsrDdcd = 0x08;
    private const byte MsrCts = 0x10;
    private const byte MsrDsr = 0x20;
    private const byte MsrRi = 0x40;
    private const byte MsrDcd = 0x80;

    // A terminal on the other end holds carrier, data-set-ready and clear-to-send, as QEMU's serial reset state does.
    private const byte MsrConnected = MsrDcd | MsrDsr | MsrCts;

    private readonly Stream output;
    private readonly IInterruptLines irq;
    private readonly int gsi;
    private readonly Queue<byte> received = new();
    private readonly Lock gate = new();

    private byte ier;
    private byte fcr;
    private byte lcr;
    private byte mcr;
    private byte scr;
    private byte dll = 0x0C; // 9600 baud from the 1.8432 MHz clock, as a BIOS leaves it
    private byte dlm;
    private byte msrDeltas;
    private bool thrEmptyPending;
    private bool irqAsserted;

    public Uart16550(Stream output, IInterruptLines irq, int gsi = Com1Gsi)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(irq);
        this.output = output;
        this.irq = irq;
        this.gsi = gsi;
    }

    /// <summary>Bytes written to <c>output</c> failed (the host stream broke); later bytes are dropped.</summary>
    public bool OutputFailed { get; private set; }

    /// <summary>Queues input as if it arrived on the serial line.</summary>
    public void Receive(ReadOnlySpan<byte> bytes)
    {
        lock (gate)
        {
            foreach (byte b in bytes)
            {
                received.Enqueue(b);
            }

            UpdateIrq();
        }
    }

    public uint Read(ushort port, int size)
    {
        lock (gate)
        {
            byte value = ReadRegister((port - RegisterBase(port)) & 7);
            UpdateIrq();
            return value;
        }
    }

    public void Write(ushort port, int size, uint value)
    {
        lock (gate)
        {
            WriteRegister((port - RegisterBase(port)) & 7, (byte)value);
            UpdateIrq();
        }
    }

    // Registration decides the base; the low three address lines select the register.
    private static int RegisterBase(ushort port) => port & ~7;

    private bool Dlab => (lcr & LcrDlab) != 0;

    private bool Loopback => (mcr & McrLoop) != 0;

    private byte ReadRegister(int reg)
    {
        switch (reg)
        {
            case RbrThrDll when Dlab:
                return dll;
            case RbrThrDll:
                return received.TryDequeue(out byte b) ? b : (byte)0;
            case IerDlm when Dlab:
                return dlm;
            case IerDlm:
                return ier;
            case IirFcr:
                return ReadIir();
            case Lcr:
                return lcr;
            case Mcr:
                return mcr;
            case Lsr:
                return (byte)(LsrThre | LsrTemt | (received.Count > 0 ? LsrDataReady : 0));
            case Msr:
                byte msr = (byte)(ModemStatusLines() | msrDeltas);
                msrDeltas = 0;
                return msr;
            default:
                return scr;
        }
    }

    private void WriteRegister(int reg, byte value)
    {
        switch (reg)
        {
            case RbrThrDll when Dlab:
                dll = value;
                break;
            case RbrThrDll:
                Transmit(value);
                break;
            case IerDlm when Dlab:
                dlm = value;
                break;
            case IerDlm:
                WriteIer(value);
                break;
            case IirFcr:
                WriteFcr(value);
                break;
            case Lcr:
                lcr = value;
                break;
            case Mcr:
                WriteMcr(value);
                break;
            case Scr:
                scr = value;
                break;
            default:
                // LSR and MSR are read-only; the datasheet leaves writes to them for factory test.
                break;
        }
    }

    /// <summary>
    /// The highest-priority pending source (datasheet Table IV). Reading IIR while it reports THR empty is what
    /// acknowledges that source; the other sources clear by reading RBR, LSR or MSR.
    /// </summary>
    private byte ReadIir()
    {
        byte id = PendingInterrupt();
        if (id == IirThrEmpty)
        {
            thrEmptyPending = false;
        }

        return (byte)(id | ((fcr & FcrFifoEnable) != 0 ? IirFifosEnabled : 0));
    }

    private byte PendingInterrupt()
    {
        // Receiver line status (0x06, ELSI) never arises: no overrun, parity, framing or break on this line.
        if ((ier & IerErbfi) != 0 && received.Count > 0)
        {
            return IirReceivedData;
        }

        if ((ier & IerEtbei) != 0 && thrEmptyPending)
        {
            return IirThrEmpty;
        }

        if ((ier & IerEdssi) != 0 && msrDeltas != 0)
        {
            return IirModemStatus;
        }

        return IirNoInterrupt;
    }

    private void Transmit(byte value)
    {
        if (Loopback)
        {
            received.Enqueue(value);
        }
        else if (!OutputFailed)
        {
            try
            {
                output.WriteByte(value);
                if (value == (byte)'\n')
                {
                    output.Flush();
                }
            }
            catch (IOException)
            {
                OutputFailed = true;
            }
        }

        // The byte left at once, so THR is empty again: the write acknowledged THRE and the empty THR re-arms it.
        thrEmptyPending = true;
    }

    /// <summary>
    /// Only the four interrupt enables exist (8250_port.c autoconfig writes 0x0F and expects 0x0F back). Enabling
    /// ETBEI while THR is empty raises THRE even if an IIR read had acknowledged it: serial8250_do_startup's
    /// UART_BUG_THRE test toggles IER and expects the interrupt to come back.
    /// </summary>
    private void WriteIer(byte value)
    {
        byte next = (byte)(value & IerWritable);
        if ((next & IerEtbei) != 0 && (ier & IerEtbei) == 0)
        {
            thrEmptyPending = true;
        }

        ier = next;
    }

    private void WriteFcr(byte value)
    {
        // Changing the FIFO enable resets both FIFOs (datasheet FCR bit 0).
        if (((value ^ fcr) & FcrFifoEnable) != 0 || (value & FcrClearReceiver) != 0)
        {
            received.Clear();
        }

        // Only enable and the trigger level are kept: the clear bits self-clear, DMA mode changes nothing here.
        fcr = (byte)(value & 0xC1);
    }

    private void WriteMcr(byte value)
    {
        byte before = ModemStatusLines();
        mcr = (byte)(value & McrWritable);
        byte after = ModemStatusLines();
        byte changed = (byte)(before ^ after);
        if ((changed & MsrCts) != 0)
        {
            msrDeltas |= MsrDcts;
        }

        if ((changed & MsrDsr) != 0)
        {
            msrDeltas |= MsrDdsr;
        }

        if ((before & MsrRi) != 0 && (after & MsrRi) == 0)
        {
            msrDeltas |= MsrTeri;
        }

        if ((changed & MsrDcd) != 0)
        {
            msrDeltas |= MsrDdcd;
        }
    }

    /// <summary>
    /// MSR bits 7:4. In loopback the modem outputs feed the inputs (datasheet MCR bit 4): OUT2→DCD, OUT1→RI,
    /// DTR→DSR, RTS→CTS; 8250_port.c autoconfig sets LOOP|OUT2|RTS and expects DCD|CTS (0x90).
    /// </summary>
    private byte ModemStatusLines()
    {
        if (!Loopback)
        {
            return MsrConnected;
        }

        int lines = 0;
        lines |= (mcr & McrRts) != 0 ? MsrCts : 0;
        lines |= (mcr & McrDtr) != 0 ? MsrDsr : 0;
        lines |= (mcr & McrOut1) != 0 ? MsrRi : 0;
        lines |= (mcr & McrOut2) != 0 ? MsrDcd : 0;
        return (byte)lines;
    }

    /// <summary>
    /// The INTR pin follows "some source pending". It is not gated by OUT2 (as QEMU and rust-vmm's vm-superio do
    /// not), so a guest that never sets OUT2 still gets interrupts; the IOAPIC sees the rising edge.
    /// </summary>
    private void UpdateIrq()
    {
        bool asserted = PendingInterrupt() != IirNoInterrupt;
        if (asserted != irqAsserted)
        {
            irqAsserted = asserted;
            irq.SetLevel(gsi, asserted);
        }
    }
}
