namespace CocoLaunch.Vmm.Devices;

/// <summary>
/// One Intel 8259A (datasheet 231468) in the subset Linux's arch/x86/kernel/i8259.c drives: the ICW1–ICW4
/// sequence, OCW1 masking, OCW2 EOIs and OCW3 IRR/ISR reads, with fixed priority (IR0 highest). Rotation,
/// special mask and poll mode are not modelled; their commands are accepted and ignored.
/// </summary>
internal sealed class Pic8259(byte elcrReservedMask)
{
    private const byte Icw1 = 0x10;
    private const byte Icw1NeedsIcw4 = 0x01;
    private const byte Icw1Single = 0x02;
    private const byte Icw4AutoEoi = 0x02;
    private const byte Ocw3 = 0x08;
    private const byte Ocw3ReadRegister = 0x02;
    private const byte Ocw3ReadIsr = 0x01;
    private const byte Ocw2Eoi = 0x20;
    private const byte Ocw2Specific = 0x40;
    private const int SpuriousLine = 7;

    private enum Expect
    {
        Ocw,
        Icw2,
        Icw3,
        Icw4,
    }

    private Expect expect;
    private bool needsIcw4;
    private bool single;
    private bool autoEoi;
    private bool readIsr;
    private byte lines;

    public byte Irr { get; private set; }

    public byte Isr { get; private set; }

    public byte Imr { get; private set; }

    public byte VectorBase { get; private set; }

    public byte Elcr { get; set => field = (byte)(value & ~elcrReservedMask); }

    /// <summary>The INT output: an unmasked request outranks everything in service.</summary>
    public bool OutputAsserted => HighestRequest() is not null;

    public void SetLine(int line, bool asserted)
    {
        byte bit = (byte)(1 << line);
        bool level = (Elcr & bit) != 0;
        bool rising = asserted && (lines & bit) == 0;
        lines = asserted ? (byte)(lines | bit) : (byte)(lines & ~bit);
        if (rising || (level && asserted))
        {
            Irr |= bit;
        }
        else if (!asserted && level)
        {
            Irr &= (byte)~bit;
        }
    }

    /// <summary>INTA: the highest request moves to ISR (unless auto-EOI); none left means a spurious IR7.</summary>
    public int Acknowledge()
    {
        int? line = HighestRequest();
        if (line is not int irq)
        {
            return SpuriousLine;
        }

        byte bit = (byte)(1 << irq);
        if ((Elcr & bit) == 0)
        {
            Irr &= (byte)~bit; // an edge request is consumed; a level one stays while the line is high
        }

        if (!autoEoi)
        {
            Isr |= bit;
        }

        return irq;
    }

    public byte ReadCommand() => readIsr ? Isr : Irr;

    public byte ReadData() => Imr;

    public void WriteCommand(byte value)
    {
        if ((value & Icw1) != 0)
        {
            // ICW1 restarts initialisation: masks, in-service state and edge memory clear (datasheet "ICW1").
            expect = Expect.Icw2;
            needsIcw4 = (value & Icw1NeedsIcw4) != 0;
            single = (value & Icw1Single) != 0;
            autoEoi = false;
            readIsr = false;
            Imr = 0;
            Isr = 0;
            Irr &= Elcr;
            lines &= Elcr;
        }
        else if ((value & Ocw3) != 0)
        {
            if ((value & Ocw3ReadRegister) != 0)
            {
                readIsr = (value & Ocw3ReadIsr) != 0;
            }
        }
        else if ((value & Ocw2Eoi) != 0)
        {
            EndOfInterrupt(value);
        }
    }

    public void WriteData(byte value)
    {
        switch (expect)
        {
            case Expect.Icw2:
                VectorBase = (byte)(value & 0xF8);
                expect = single ? (needsIcw4 ? Expect.Icw4 : Expect.Ocw) : Expect.Icw3;
                break;
            case Expect.Icw3:
                // The cascade wiring is fixed on a PC (slave on master IR2); ICW3 is accepted as written.
                expect = needsIcw4 ? Expect.Icw4 : Expect.Ocw;
                break;
            case Expect.Icw4:
                autoEoi = (value & Icw4AutoEoi) != 0;
                expect = Expect.Ocw;
                break;
            default:
                Imr = value;
                break;
        }
    }

    private void EndOfInterrupt(byte ocw2)
    {
        if ((ocw2 & Ocw2Specific) != 0)
        {
            Isr &= (byte)~(1 << (ocw2 & 7));
        }
        else if (Isr != 0)
        {
            Isr &= (byte)~(Isr & -Isr); // the highest-priority (lowest-numbered) level in service
        }
    }

    private int? HighestRequest()
    {
        int pending = Irr & ~Imr;
        for (int line = 0; line < 8; line++)
        {
            int bit = 1 << line;
            if ((Isr & bit) != 0)
            {
                return null; // a level in service blocks itself and everything below it
            }

            if ((pending & bit) != 0)
            {
                return line;
            }
        }

        return null;
    }
}
