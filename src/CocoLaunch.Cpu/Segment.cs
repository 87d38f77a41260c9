namespace CocoLaunch.Cpu;

/// <summary>The segment registers, in x86 encoding order (the Sreg field of MOV Sreg).</summary>
public enum SegmentName
{
    Es = 0,
    Cs = 1,
    Ss = 2,
    Ds = 3,
    Fs = 4,
    Gs = 5,
}

/// <summary>
/// A segment register with its hidden part. <see cref="Attributes"/> uses the VMSA/VMCB packing: type in bits
/// 3:0, S 4, DPL 6:5, P 7, AVL 8, L 9, D/B 10, G 11 — the same bits as descriptor bytes 5 and 6 high nibble.
/// </summary>
public struct Segment
{
    public ushort Selector;
    public ulong Base;
    public uint Limit;
    public ushort Attributes;

    public Segment(ushort selector, ulong @base, uint limit, ushort attributes)
    {
        Selector = selector;
        Base = @base;
        Limit = limit;
        Attributes = attributes;
    }

    public readonly bool Present => (Attributes & 0x80) != 0;

    public readonly bool Long => (Attributes & 0x200) != 0;

    public readonly bool DefaultBig => (Attributes & 0x400) != 0;

    public readonly int Dpl => (Attributes >> 5) & 3;

    public readonly bool IsCode => (Attributes & 0x18) == 0x18;

    public readonly bool IsWritableData => (Attributes & 0x1A) == 0x12;

    public readonly bool IsExpandDown => (Attributes & 0x1C) == 0x14;

    /// <summary>Real-mode (and VM86) loading: base = selector × 16, the other hidden fields kept.</summary>
    public static Segment RealMode(ushort selector, Segment old) => new(selector, (ulong)selector << 4, old.Limit, old.Attributes);

    /// <summary>From an 8-byte GDT/LDT descriptor.</summary>
    public static Segment FromDescriptor(ushort selector, ulong d)
    {
        uint limit = (uint)((d & 0xFFFF) | ((d >> 32) & 0xF_0000));
        ulong @base = ((d >> 16) & 0xFF_FFFF) | (((d >> 56) & 0xFF) << 24);
        ushort attributes = (ushort)(((d >> 40) & 0xFF) | (((d >> 52) & 0xF) << 8));
        if ((attributes & 0x800) != 0)
        {
            limit = (limit << 12) | 0xFFF;
        }

        return new Segment(selector, @base, limit, attributes);
    }
}

/// <summary>GDTR or IDTR.</summary>
public struct DescriptorTable
{
    public ulong Base;
    public ushort Limit;
}
