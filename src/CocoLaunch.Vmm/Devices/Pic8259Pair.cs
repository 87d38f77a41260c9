namespace CocoLaunch.Vmm.Devices;

/// <summary>
/// The PC/AT cascade of two 8259As: master at 0x20/0x21 with the slave on its IR2, slave at 0xA0/0xA1, and the
/// edge/level control registers (ELCR) at 0x4D0/0x4D1. Register the same instance for all three port pairs.
/// IRQ n of <see cref="IInterruptLines"/> is master line n (0–7) or slave line n − 8 (8–15).
/// </summary>
public sealed class Pic8259Pair : IPortDevice, IInterruptLines
{
    public const ushort MasterCommand = 0x20;
    public const ushort MasterData = 0x21;
    public const ushort SlaveCommand = 0xA0;
    public const ushort SlaveData = 0xA1;
    public const ushort ElcrMaster = 0x4D0;
    public const ushort ElcrSlave = 0x4D1;
    private const int CascadeLine = 2;

    // IRQ 0, 1, 2 (timer, keyboard, cascade) and 8, 13 (RTC, FPU) are edge-only on a PC; their ELCR bits read 0.
    private readonly Pic8259 master = new(elcrReservedMask: 0x07);
    private readonly Pic8259 slave = new(elcrReservedMask: 0x21);
    private readonly Lock gate = new();

    /// <summary>The master's INT pin, which a CPU in virtual-wire mode sees as ExtINT.</summary>
    public bool OutputAsserted
    {
        get
        {
            lock (gate)
            {
                return master.OutputAsserted;
            }
        }
    }

    public void SetLevel(int gsi, bool asserted)
    {
        lock (gate)
        {
            if (gsi is >= 0 and < 8 && gsi != CascadeLine)
            {
                master.SetLine(gsi, asserted);
            }
            else if (gsi is >= 8 and < 16)
            {
                slave.SetLine(gsi - 8, asserted);
                master.SetLine(CascadeLine, slave.OutputAsserted);
            }
        }
    }

    /// <summary>The interrupt-acknowledge cycle: the vector of the highest-priority unmasked request, or null.</summary>
    public int? Acknowledge()
    {
        lock (gate)
        {
            if (!master.OutputAsserted)
            {
                return null;
            }

            int line = master.Acknowledge();
            if (line != CascadeLine)
            {
                return master.VectorBase + line;
            }

            int vector = slave.VectorBase + slave.Acknowledge();

            // The slave drops INT during its acknowledge, so a request still waiting there is a fresh edge.
            master.SetLine(CascadeLine, false);
            master.SetLine(CascadeLine, slave.OutputAsserted);
            return vector;
        }
    }

    public uint Read(ushort port, int size)
    {
        lock (gate)
        {
            return port switch
            {
                MasterCommand => master.ReadCommand(),
                MasterData => master.ReadData(),
                SlaveCommand => slave.ReadCommand(),
                SlaveData => slave.ReadData(),
                ElcrMaster => master.Elcr,
                ElcrSlave => slave.Elcr,
                _ => AccessWidth.AllOnes(size),
            };
        }
    }

    public void Write(ushort port, int size, uint value)
    {
        lock (gate)
        {
            byte b = (byte)value;
            switch (port)
            {
                case MasterCommand:
                    master.WriteCommand(b);
                    break;
                case MasterData:
                    master.WriteData(b);
                    break;
                case SlaveCommand:
                    slave.WriteCommand(b);
                    break;
                case SlaveData:
                    slave.WriteData(b);
                    break;
                case ElcrMaster:
                    master.Elcr = b;
                    break;
                case ElcrSlave:
                    slave.Elcr = b;
                    break;
                default:
                    break;
            }

            // An unmask or EOI on the slave can raise or drop its request on the master's cascade line.
            master.SetLine(CascadeLine, slave.OutputAsserted);
        }
    }
}
