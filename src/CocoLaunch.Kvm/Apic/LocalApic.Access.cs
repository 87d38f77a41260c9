namespace CocoLaunch.Kvm;

/// <summary>
/// The two ways software reaches the APIC (SDM vol. 3 §11.4.4 and §11.12): IA32_APIC_BASE, the xAPIC page at
/// its base address, and in x2APIC mode the MSRs 0x800–0x8FF, with the mode transitions and #GP rules of
/// <c>kvm_apic_set_base</c>, <c>kvm_x2apic_msr_read</c> and <c>kvm_x2apic_msr_write</c>.
/// </summary>
public sealed partial class LocalApic
{
    public const uint BaseMsrIndex = 0x1B;
    public const ulong DefaultBase = 0xFEE0_0000;
    public const ulong BaseBsp = 1 << 8, BaseExtd = 1 << 10, BaseEnable = 1 << 11;
    private const uint X2ApicFirstMsr = 0x800, X2ApicLastMsr = 0x8FF;

    // Bits 0-7 and 9 are reserved, and the address stops at 52 bits.
    private const ulong BaseReserved = 0x2FF | ~((1UL << 52) - 1);

    /// <summary>IA32_APIC_BASE: the page address, BSP, x2APIC (EXTD) and global enable.</summary>
    public ulong BaseMsr { get; private set; }

    public bool X2ApicMode => (BaseMsr & (BaseEnable | BaseExtd)) == (BaseEnable | BaseExtd);

    /// <summary>Whether the xAPIC page decodes MMIO: enabled, not in x2APIC mode.</summary>
    public bool DecodesMmio => (BaseMsr & (BaseEnable | BaseExtd)) == BaseEnable;

    public ulong MmioBase => BaseMsr & ~0xFFFUL;

    /// <summary>A write of IA32_APIC_BASE; false (#GP) for reserved bits or a transition the SDM forbids.</summary>
    public bool TrySetBase(ulong value)
    {
        ulong oldMode = BaseMsr & (BaseEnable | BaseExtd), newMode = value & (BaseEnable | BaseExtd);
        if ((value & BaseReserved) != 0 || newMode == BaseExtd || (oldMode == (BaseEnable | BaseExtd) && newMode == BaseEnable))
        {
            return false;
        }

        BaseMsr = value;
        return true;
    }

    /// <summary>Whether an MSR is this APIC's: IA32_APIC_BASE, IA32_TSC_DEADLINE or an x2APIC register (0x800–0x8FF).</summary>
    public bool Claims(uint index) => index is BaseMsrIndex or TscDeadlineMsr or (>= X2ApicFirstMsr and <= X2ApicLastMsr);

    /// <summary>An RDMSR this APIC claims; false is #GP.</summary>
    public bool TryReadMsr(uint index, out ulong value)
    {
        value = 0;
        switch (index)
        {
            case BaseMsrIndex:
                value = BaseMsr;
                return true;
            case TscDeadlineMsr:
                value = ReadTscDeadline();
                return true;
        }

        int offset = (int)(index - X2ApicFirstMsr) << 4;
        if (!X2ApicMode || offset is Eoi or SelfIpi or IcrHigh)
        {
            return false;
        }

        if (offset == IcrLow)
        {
            value = ((ulong)icrHigh << 32) | icrLow;
            return true;
        }

        bool ok = TryRead(offset, out uint v);
        value = v;
        return ok;
    }

    /// <summary>A WRMSR this APIC claims; false is #GP.</summary>
    public bool TryWriteMsr(uint index, ulong value)
    {
        switch (index)
        {
            case BaseMsrIndex:
                return TrySetBase(value);
            case TscDeadlineMsr:
                WriteTscDeadline(value);
                return true;
        }

        int offset = (int)(index - X2ApicFirstMsr) << 4;
        if (!X2ApicMode)
        {
            return false;
        }

        if (offset == IcrLow)
        {
            icrHigh = (uint)(value >> 32);
            return TryWrite(IcrLow, (uint)value);
        }

        // Bits 63:32 are reserved in every register but ICR.
        return value >> 32 == 0 && offset is not (Dfr or IcrHigh) && TryWrite(offset, (uint)value);
    }

    /// <summary>An xAPIC MMIO read within the page: 1–4 bytes inside one 32-bit register; unreadable registers read 0.</summary>
    public ulong ReadMmio(ulong offset, int size)
    {
        int alignment = (int)(offset & 0xF);
        if (alignment + size > 4 || !TryRead((int)(offset & ~0xFUL), out uint value))
        {
            return 0;
        }

        return (value >> (8 * alignment)) & (size == 4 ? 0xFFFF_FFFFUL : (1UL << (8 * size)) - 1);
    }

    /// <summary>An xAPIC MMIO write: only aligned 32-bit writes reach a register (<c>apic_mmio_write</c>).</summary>
    public void WriteMmio(ulong offset, int size, ulong value)
    {
        if (size == 4 && (offset & 0xF) == 0 && offset < 0x400)
        {
            TryWrite((int)offset, (uint)value);
        }
    }
}
