namespace CocoLaunch.Vmm.Devices;

/// <summary>
/// An Intel 82093AA I/O APIC (datasheet 290566) with 24 pins, turning pin levels into MSI messages the way QEMU's
/// hw/intc/ioapic.c and Linux's arch/x86/kernel/apic/io_apic.c agree on. Delivery is instantaneous, so the
/// delivery-status bit always reads idle. Pins report logical assertion, so polarity is kept for read-back only.
/// </summary>
public sealed class IoApic : IMmioDevice, IInterruptLines
{
    public const ulong DefaultBase = 0xFEC0_0000;
    public const ulong WindowSize = 0x1000;
    public const int Pins = 24;

    /// <summary>IOAPICVER: maximum redirection entry 23 in bits 23:16, version 0x11 (82093AA).</summary>
    public const uint Version = ((Pins - 1) << 16) | 0x11;

    // Direct registers (datasheet §3.1).
    private const ulong IoRegSel = 0x00;
    private const ulong IoWin = 0x10;

    // Indirect registers (datasheet §3.2).
    private const byte IoApicId = 0x00;
    private const byte IoApicVer = 0x01;
    private const byte IoApicArb = 0x02;
    private const byte IoRedTbl = 0x10;

    private const int IdShift = 24;
    private const uint IdMask = 0x0F00_0000;

    // Redirection table entry fields (datasheet §3.2.4).
    private const ulong RteVector = 0xFF;
    private const int RteDeliveryModeShift = 8;
    private const ulong RteDestinationModeLogical = 1UL << 11;
    private const ulong RtePolarityLow = 1UL << 13;
    private const ulong RteRemoteIrr = 1UL << 14;
    private const ulong RteTriggerLevel = 1UL << 15;
    private const ulong RteMasked = 1UL << 16;
    private const int RteDestinationShift = 56;
    private const ulong RteReadOnly = RteRemoteIrr | (1UL << 12);
    private const ulong RteWritable = RteVector | (7UL << RteDeliveryModeShift) | RteDestinationModeLogical
        | RtePolarityLow | RteTriggerLevel | RteMasked | (0xFFUL << RteDestinationShift);

    // MSI layout (Intel SDM vol. 3 §11.11).
    private const ulong MsiAddressBase = 0xFEE0_0000;
    private const int MsiDestinationShift = 12;
    private const int MsiDestinationModeShift = 2;
    private const int MsiTriggerShift = 15;

    private readonly Action<MsiMessage> deliver;
    private readonly ulong[] redirection = new ulong[Pins];
    private readonly bool[] asserted = new bool[Pins];
    private readonly Lock gate = new();
    private byte select;
    private uint id;

    public IoApic(Action<MsiMessage> deliver, byte id = 0)
    {
        ArgumentNullException.ThrowIfNull(deliver);
        this.deliver = deliver;
        this.id = ((uint)id << IdShift) & IdMask;
        Array.Fill(redirection, RteMasked);
    }

    /// <summary>The redirection table entry of <paramref name="pin"/>, for tests and state dumps.</summary>
    public ulong RedirectionEntry(int pin) => redirection[pin];

    public ulong Read(ulong offset, int size)
    {
        lock (gate)
        {
            return offset switch
            {
                IoRegSel => select,
                IoWin => ReadIndirect(select),
                _ => 0,
            };
        }
    }

    public void Write(ulong offset, int size, ulong value)
    {
        LockedThenDeliver(sends =>
        {
            if (offset == IoRegSel)
            {
                select = (byte)value;
            }
            else if (offset == IoWin)
            {
                WriteIndirect(select, (uint)value, sends);
            }
        });
    }

    /// <summary>
    /// An edge pin sends on the rising edge if unmasked (a masked edge is not held pending, datasheet §3.2.4);
    /// a level pin sends while asserted, unmasked and without remote IRR.
    /// </summary>
    public void SetLevel(int gsi, bool asserted)
    {
        if ((uint)gsi >= Pins)
        {
            return;
        }

        LockedThenDeliver(sends =>
        {
            bool rising = asserted && !this.asserted[gsi];
            this.asserted[gsi] = asserted;
            if ((redirection[gsi] & RteTriggerLevel) != 0 || rising)
            {
                Service(gsi, sends);
            }
        });
    }

    /// <summary>
    /// The local APIC's EOI broadcast for <paramref name="vector"/>: level pins with that vector drop remote IRR and
    /// send again if their line is still asserted (version 0x11 has no directed EOI register).
    /// </summary>
    public void EndOfInterrupt(int vector)
    {
        LockedThenDeliver(sends =>
        {
            for (int pin = 0; pin < Pins; pin++)
            {
                ulong rte = redirection[pin];
                if ((rte & RteRemoteIrr) != 0 && (int)(rte & RteVector) == vector)
                {
                    redirection[pin] = rte & ~RteRemoteIrr;
                    Service(pin, sends);
                }
            }
        });
    }

    /// <summary>
    /// Updates state under the lock and sends afterwards, so a receiver that answers at once (a local APIC raising
    /// an EOI) can re-enter without deadlock.
    /// </summary>
    private void LockedThenDeliver(Action<List<MsiMessage>> update)
    {
        var sends = new List<MsiMessage>();
        lock (gate)
        {
            update(sends);
        }

        sends.ForEach(deliver);
    }

    private uint ReadIndirect(byte register)
    {
        if (register >= IoRedTbl && register < IoRedTbl + (2 * Pins))
        {
            ulong rte = redirection[(register - IoRedTbl) / 2];
            return (register & 1) == 0 ? (uint)rte : (uint)(rte >> 32);
        }

        return register switch
        {
            IoApicId => id,
            IoApicVer => Version,

            // The arbitration ID is loaded from the APIC ID (datasheet §3.2.3).
            IoApicArb => id,
            _ => 0,
        };
    }

    private void WriteIndirect(byte register, uint value, List<MsiMessage> sends)
    {
        if (register == IoApicId)
        {
            id = value & IdMask;
            return;
        }

        if (register < IoRedTbl || register >= IoRedTbl + (2 * Pins))
        {
            return; // version, arbitration and reserved registers are read-only
        }

        int pin = (register - IoRedTbl) / 2;
        ulong old = redirection[pin];
        ulong written = (register & 1) == 0
            ? (old & 0xFFFF_FFFF_0000_0000) | value
            : (old & 0xFFFF_FFFF) | ((ulong)value << 32);
        ulong rte = (written & RteWritable) | (old & RteReadOnly);
        if ((rte & RteTriggerLevel) == 0)
        {
            rte &= ~RteRemoteIrr; // remote IRR is undefined for edge pins; keep it from blocking a later switch to level
        }

        redirection[pin] = rte;
        if ((rte & RteTriggerLevel) != 0)
        {
            Service(pin, sends); // unmasking a still-asserted level pin sends it
        }
    }

    private void Service(int pin, List<MsiMessage> sends)
    {
        ulong rte = redirection[pin];
        if (!asserted[pin] || (rte & (RteMasked | RteRemoteIrr)) != 0)
        {
            return;
        }

        if ((rte & RteTriggerLevel) != 0)
        {
            redirection[pin] = rte | RteRemoteIrr;
        }

        sends.Add(Compose(rte));
    }

    /// <summary>The MSI an RTE becomes: destination 63:56 → address 19:12, destination mode → address bit 2;
    /// vector, delivery mode and trigger mode → data 7:0, 10:8 and 15 (QEMU ioapic_entry_parse).</summary>
    private static MsiMessage Compose(ulong rte)
    {
        ulong destination = (rte >> RteDestinationShift) & 0xFF;
        ulong logical = (rte & RteDestinationModeLogical) != 0 ? 1UL : 0;
        ulong address = MsiAddressBase | (destination << MsiDestinationShift) | (logical << MsiDestinationModeShift);
        uint data = (uint)(rte & RteVector)
            | (uint)(((rte >> RteDeliveryModeShift) & 7) << RteDeliveryModeShift)
            | ((rte & RteTriggerLevel) != 0 ? 1u << MsiTriggerShift : 0);
        return new MsiMessage(address, data);
    }
}
