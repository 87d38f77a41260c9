namespace CocoLaunch.Kvm;

/// <summary>
/// A vCPU's local APIC as KVM emulates it in the kernel (<c>arch/x86/kvm/lapic.c</c>, split irqchip): the register
/// page (Intel SDM vol. 3 ch. 11), interrupt acceptance into IRR, priority through TPR/PPR, EOI, the LVT, the
/// timer, self-IPIs, and the xAPIC MMIO and x2APIC MSR views of the same registers. Interrupts from devices
/// arrive as MSIs (KVM_SIGNAL_MSI) routed by APIC ID; the IOAPIC, PIC and PIT live in userspace.
/// </summary>
public sealed partial class LocalApic
{
    /// <summary>Register offsets in the xAPIC page; the x2APIC MSR is 0x800 + offset / 16.</summary>
    public const int Id = 0x20, Version = 0x30, Tpr = 0x80, Apr = 0x90, Ppr = 0xA0, Eoi = 0xB0, Rrd = 0xC0, Ldr = 0xD0, Dfr = 0xE0, Svr = 0xF0,
        Isr = 0x100, Tmr = 0x180, Irr = 0x200, Esr = 0x280, LvtCmci = 0x2F0, IcrLow = 0x300, IcrHigh = 0x310, LvtTimer = 0x320,
        LvtThermal = 0x330, LvtPerf = 0x340, LvtLint0 = 0x350, LvtLint1 = 0x360, LvtError = 0x370, TimerInitialCount = 0x380,
        TimerCurrentCount = 0x390, TimerDivide = 0x3E0, SelfIpi = 0x3F0;

    /// <summary>APIC_VERSION 0x14 with six LVT entries (KVM without MCG_CMCI_P: max LVT index 5).</summary>
    public const uint VersionValue = 0x0005_0014;

    internal const uint LvtMasked = 1 << 16, SvrEnabled = 1 << 8;
    private const uint VectorMask = 0xFF, SendPending = 1 << 12, DeliveryModeMask = 0x700, InputPolarity = 1 << 13, RemoteIrr = 1 << 14,
        LevelTrigger = 1 << 15, LvtMask = LvtMasked | SendPending | VectorMask, LintMask = LvtMask | DeliveryModeMask | InputPolarity | RemoteIrr | LevelTrigger;

    private readonly uint[] isr = new uint[8], tmr = new uint[8], irr = new uint[8];
    private readonly Func<ulong> tsc;
    private uint tpr, ldr, dfr = 0xFFFF_FFFF, svr = 0xFF, esr, icrLow, icrHigh;
    private readonly uint[] lvt = [LvtMasked, LvtMasked, LvtMasked, LvtMasked, LvtMasked, LvtMasked, LvtMasked]; // timer … CMCI

    /// <param name="apicId">The vCPU id, which KVM makes the initial APIC ID.</param>
    /// <param name="tsc">The vCPU's time-stamp counter, the timer's time base.</param>
    /// <param name="tscKhz">The TSC frequency (KVM_SET_TSC_KHZ), which converts APIC bus cycles into TSC ticks.</param>
    public LocalApic(uint apicId, Func<ulong> tsc, ulong tscKhz, bool bootstrap)
    {
        ApicId = apicId;
        this.tsc = tsc;
        TscKhz = tscKhz;
        BaseMsr = DefaultBase | BaseEnable | (bootstrap ? BaseBsp : 0);
    }

    public uint ApicId { get; private set; }

    /// <summary>Whether the APIC takes interrupts: enabled in IA32_APIC_BASE and in SVR (<c>kvm_apic_enabled</c>).</summary>
    public bool Enabled => (BaseMsr & BaseEnable) != 0 && (svr & SvrEnabled) != 0;

    /// <summary>An NMI accepted and not yet delivered to the processor.</summary>
    public bool NmiPending { get; set; }

    /// <summary>
    /// Accepts a fixed interrupt (<c>__apic_accept_irq</c>, APIC_DM_FIXED): sets its IRR bit, and its TMR bit when
    /// level-triggered. A disabled APIC drops it; vectors 0–15 are illegal and set ESR's "received illegal vector".
    /// </summary>
    public bool Accept(int vector, bool levelTriggered)
    {
        if (!Enabled)
        {
            return false;
        }

        if (vector < 16)
        {
            esr |= 1 << 6;
            return false;
        }

        Set(irr, vector, true);
        Set(tmr, vector, levelTriggered);
        return true;
    }

    /// <summary>
    /// The highest IRR vector whose priority class is above PPR, or −1 (<c>kvm_apic_has_interrupt</c>, which first
    /// syncs posted interrupts into IRR as <c>apic_has_interrupt_for_ppr</c> does).
    /// </summary>
    public int PendingVector()
    {
        SyncPosted();
        if (!Enabled)
        {
            return -1;
        }

        int highest = Highest(irr);
        return highest >= 0 && (highest & 0xF0) > (ProcessorPriority & 0xF0) ? highest : -1;
    }

    /// <summary>The processor took <paramref name="vector"/>: it moves from IRR to ISR (<c>kvm_apic_ack_interrupt</c>).</summary>
    public void Acknowledge(int vector)
    {
        Set(irr, vector, false);
        Set(isr, vector, true);
    }

    /// <summary>PPR: TPR, or the in-service vector's class when that is higher (SDM §11.8.3.1).</summary>
    public uint ProcessorPriority
    {
        get
        {
            int isrv = Highest(isr);
            uint inService = isrv < 0 ? 0 : (uint)isrv & 0xF0;
            return (tpr & 0xF0) >= inService ? tpr & 0xFF : inService;
        }
    }

    /// <summary>
    /// An EOI: the highest in-service vector is retired. Returns it when it arrived level-triggered, which a split
    /// irqchip reports to userspace (KVM_EXIT_IOAPIC_EOI) so the IOAPIC clears its remote IRR; else −1.
    /// </summary>
    public int EndOfInterrupt()
    {
        int vector = Highest(isr);
        if (vector < 0)
        {
            return -1;
        }

        Set(isr, vector, false);
        return Test(tmr, vector) ? vector : -1;
    }

    /// <summary>A level-triggered EOI waiting to leave as KVM_EXIT_IOAPIC_EOI, or −1.</summary>
    internal int PendingIoapicEoi { get; set; } = -1;

    /// <summary>Reads a 32-bit register as <c>kvm_lapic_reg_read</c> does; false for an offset that is not readable.</summary>
    public bool TryRead(int offset, out uint value)
    {
        value = 0;
        switch (offset)
        {
            case Id: value = X2ApicMode ? ApicId : ApicId << 24; break;
            case Version: value = VersionValue; break;
            case Tpr: value = tpr; break;
            case Apr: value = 0; break;
            case Ppr: value = ProcessorPriority; break;
            case Ldr: value = X2ApicMode ? X2ApicLdr : ldr; break;
            case Dfr when !X2ApicMode: value = dfr; break;
            case Svr: value = svr; break;
            case >= Isr and < Tmr when offset % 16 == 0: value = isr[(offset - Isr) / 16]; break;
            case >= Tmr and < Irr when offset % 16 == 0: value = tmr[(offset - Tmr) / 16]; break;
            case >= Irr and < Esr when offset % 16 == 0: value = irr[(offset - Irr) / 16]; break;
            case Esr: value = esr; break;
            case IcrLow: value = icrLow & ~SendPending; break; // delivery is instantaneous: never "send pending"
            case IcrHigh when !X2ApicMode: value = icrHigh; break;
            case >= LvtTimer and <= LvtError when offset % 16 == 0: value = lvt[LvtIndex(offset)]; break;
            case LvtCmci: value = lvt[6]; break;
            case TimerInitialCount: value = initialCount; break;
            case TimerCurrentCount: value = CurrentCount(); break;
            case TimerDivide: value = divideConfig; break;
            default: return false;
        }

        return true;
    }

    /// <summary>
    /// Writes a 32-bit register as <c>kvm_lapic_reg_write</c> does; false for a register the guest may not write,
    /// which is #GP through the x2APIC MSRs and ignored through MMIO.
    /// </summary>
    public bool TryWrite(int offset, uint value)
    {
        switch (offset)
        {
            case Id when !X2ApicMode: ApicId = value >> 24; break;
            case Tpr: tpr = value & 0xFF; break;
            case Eoi:
                if (EndOfInterrupt() is >= 0 and int level)
                {
                    PendingIoapicEoi = level;
                }

                break;
            case Ldr when !X2ApicMode: ldr = value & 0xFF00_0000; break;
            case Dfr when !X2ApicMode: dfr = value | 0x0FFF_FFFF; break;
            case Svr:
                svr = value & 0x3FF;
                if ((svr & SvrEnabled) == 0)
                {
                    // A software-disabled APIC masks every LVT entry and drops a pending timer (apic_set_spiv).
                    for (int i = 0; i < lvt.Length; i++)
                    {
                        lvt[i] |= LvtMasked;
                    }
                }

                break;
            case Esr:
                if (X2ApicMode && value != 0)
                {
                    return false;
                }

                esr = 0;
                break;
            case IcrLow: SendIpi(value, X2ApicMode ? icrHigh : icrHigh >> 24); break;
            case IcrHigh when !X2ApicMode: icrHigh = value & 0xFF00_0000; break;
            case LvtTimer: WriteTimerLvt(value); break;
            case LvtThermal or LvtPerf or LvtCmci: WriteLvt(offset, value, LvtMask | DeliveryModeMask); break;
            case LvtLint0 or LvtLint1: WriteLvt(offset, value, LintMask); break;
            case LvtError: WriteLvt(offset, value, LvtMask); break;
            case TimerInitialCount: WriteInitialCount(value); break;
            case TimerDivide: WriteDivide(value); break;
            case SelfIpi when X2ApicMode: Accept((int)(value & VectorMask), levelTriggered: false); break;
            default: return false;
        }

        return true;
    }

    private void WriteLvt(int offset, uint value, uint mask)
    {
        if ((svr & SvrEnabled) == 0)
        {
            value |= LvtMasked;
        }

        lvt[offset == LvtCmci ? 6 : LvtIndex(offset)] = value & mask;
    }

    private static int LvtIndex(int offset) => (offset - LvtTimer) / 16;

    /// <summary>
    /// An IPI from ICR (<c>kvm_apic_send_ipi</c>). Fixed and NMI delivery to this APIC (the self and
    /// all-including-self shorthands, or its own ID) is accepted here; every other destination goes to the VM's APIC
    /// bus, which posts it to the other vCPUs' APICs.
    /// </summary>
    private void SendIpi(uint low, uint destination)
    {
        icrLow = low;
        int shorthand = (int)((low >> 18) & 3);
        bool toSelf = shorthand is 1 or 2 || (shorthand == 0 && (low & (1 << 11)) == 0 && destination == ApicId);
        bool toOthers = shorthand is 2 or 3 || (shorthand == 0 && !toSelf);
        if (toOthers)
        {
            Bus?.Invoke(this, low, destination);
        }

        if (!toSelf)
        {
            return;
        }

        switch ((low & DeliveryModeMask) >> 8)
        {
            case 0: // fixed
                Accept((int)(low & VectorMask), (low & LevelTrigger) != 0);
                break;
            case 4: // NMI
                NmiPending = true;
                break;
        }
    }

    /// <summary>
    /// Whether an 8-bit MSI or IPI destination names this APIC (<c>kvm_apic_match_dest</c>): physical mode by APIC
    /// ID (0xFF broadcasts), logical mode by the flat or cluster model of DFR, or x2APIC's LDR.
    /// </summary>
    public bool MatchesDestination(uint destination, bool logical)
    {
        if (!logical)
        {
            return destination == (X2ApicMode ? 0xFFFF_FFFF : 0xFF) || destination == ApicId;
        }

        if (X2ApicMode)
        {
            return (X2ApicLdr & destination) != 0;
        }

        uint id = ldr >> 24;
        return (dfr >> 28) == 0xF
            ? (id & destination) != 0
            : (id >> 4) == (destination >> 4) && (id & destination & 0xF) != 0;
    }

    private uint X2ApicLdr => ((ApicId >> 4) << 16) | (1u << (int)(ApicId & 0xF));

    private static int Highest(uint[] bits)
    {
        for (int w = 7; w >= 0; w--)
        {
            if (bits[w] != 0)
            {
                return (w * 32) + 31 - System.Numerics.BitOperations.LeadingZeroCount(bits[w]);
            }
        }

        return -1;
    }

    private static bool Test(uint[] bits, int v) => (bits[v >> 5] & (1u << (v & 31))) != 0;

    private static void Set(uint[] bits, int v, bool on)
    {
        if (on)
        {
            bits[v >> 5] |= 1u << (v & 31);
        }
        else
        {
            bits[v >> 5] &= ~(1u << (v & 31));
        }
    }
}
