namespace CocoLaunch.Cpu;

/// <summary>
/// Architectural state of one logical processor. Plain fields: the interpreter reads and writes them on every
/// instruction, and a platform fills them from a reset state or a VMSA.
/// </summary>
public sealed partial class CpuState
{
    public const ulong FlagCf = 1 << 0;
    public const ulong FlagPf = 1 << 2;
    public const ulong FlagAf = 1 << 4;
    public const ulong FlagZf = 1 << 6;
    public const ulong FlagSf = 1 << 7;
    public const ulong FlagTf = 1 << 8;
    public const ulong FlagIf = 1 << 9;
    public const ulong FlagDf = 1 << 10;
    public const ulong FlagOf = 1 << 11;
    public const ulong FlagRf = 1 << 16;
    public const ulong FlagVm = 1 << 17;
    public const ulong FlagAc = 1 << 18;
    public const ulong FlagId = 1 << 21;
    public const ulong ArithmeticFlags = FlagCf | FlagPf | FlagAf | FlagZf | FlagSf | FlagOf;

    public const ulong Cr0Pe = 1 << 0;
    public const ulong Cr0Mp = 1 << 1;
    public const ulong Cr0Em = 1 << 2;
    public const ulong Cr0Ts = 1 << 3;
    public const ulong Cr0Wp = 1 << 16;
    public const ulong Cr0Am = 1 << 18;
    public const ulong Cr0Pg = 1UL << 31;
    public const ulong Cr4Tsd = 1 << 2;
    public const ulong Cr4Pse = 1 << 4;
    public const ulong Cr4Pae = 1 << 5;
    public const ulong Cr4Pge = 1 << 7;
    public const ulong Cr4OsFxsr = 1 << 9;
    public const ulong Cr4Umip = 1 << 11;
    public const ulong Cr4La57 = 1 << 12;
    public const ulong Cr4FsGsBase = 1 << 16;
    public const ulong Cr4Pcide = 1 << 17;
    public const ulong Cr4OsXsave = 1 << 18;
    public const ulong Cr4Smep = 1 << 20;
    public const ulong Cr4Smap = 1 << 21;
    public const ulong EferSce = 1 << 0;
    public const ulong EferLme = 1 << 8;
    public const ulong EferLma = 1 << 10;
    public const ulong EferNxe = 1 << 11;

    /// <summary>RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8–R15: x86 encoding order.</summary>
    public readonly ulong[] Gpr = new ulong[16];

    public ulong Rip;


    public readonly Segment[] Segments = new Segment[6];
    public Segment Ldtr;
    public Segment Tr;
    public DescriptorTable Gdtr;
    public DescriptorTable Idtr;

    public ulong Cr0 = 0x6000_0010;
    public ulong Cr2;
    public ulong Cr3;
    public ulong Cr4;
    public ulong Cr8;
    public ulong Efer;
    public ulong Xcr0 = 1;
    public readonly ulong[] Dr = new ulong[8];

    public ulong KernelGsBase;
    public ulong Star;
    public ulong Lstar;
    public ulong Cstar;
    public ulong Sfmask;
    public ulong Pat = 0x0007_0406_0007_0406;
    public ulong SysenterCs;
    public ulong SysenterEsp;
    public ulong SysenterEip;
    public ulong TscAux;
    public ulong ApicBase = 0xFEE0_0900;

    /// <summary>XMM0–15, low and high quadwords.</summary>
    public readonly ulong[] Xmm = new ulong[32];
    public uint Mxcsr = 0x1F80;
    public ushort FpuControl = 0x037F;
    public ushort FpuStatus;
    public ushort FpuTag = 0xFFFF;

    /// <summary>The x87 data registers R0–R7 (physical; ST(i) is R((TOP + i) mod 8)).</summary>
    public readonly Float80[] Fpr = new Float80[8];

    public ref Segment Cs => ref Segments[(int)SegmentName.Cs];

    public ref Segment Ss => ref Segments[(int)SegmentName.Ss];

    /// <summary>Current privilege level: CS.DPL in protected mode (SS.DPL matches), 0 in real mode.</summary>
    public int Cpl => (Cr0 & Cr0Pe) == 0 ? 0 : Segments[(int)SegmentName.Cs].Dpl;

    public bool LongMode => (Efer & EferLma) != 0;

    /// <summary>
    /// ECX of CPUID <paramref name="function"/> as this CPU shows it: in leaf 1, OSXSAVE (bit 27) mirrors CR4.OSXSAVE
    /// wherever XSAVE (bit 26) is offered (SDM CPUID; KVM's kvm_update_cpuid_runtime does the same).
    /// </summary>
    public uint CpuidEcx(uint function, uint ecx)
    {
        const uint xsave = 1u << 26, osxsave = 1u << 27;
        if (function != 1 || (ecx & xsave) == 0)
        {
            return ecx;
        }

        return (Cr4 & Cr4OsXsave) != 0 ? ecx | osxsave : ecx & ~osxsave;
    }

    /// <summary>Code size of the current CS: 16, 32 or 64.</summary>
    public int Bitness
    {
        get
        {
            if ((Cr0 & Cr0Pe) == 0)
            {
                return 16;
            }

            ref var cs = ref Segments[(int)SegmentName.Cs];
            return LongMode && cs.Long ? 64 : cs.DefaultBig ? 32 : 16;
        }
    }

    /// <summary>The legacy power-on state (also a fresh KVM vCPU's): real mode at F000:FFF0, CS.base 0xFFFF0000.</summary>
    public static CpuState LegacyReset(uint edx = 0x600)
    {
        var s = new CpuState { Rip = 0xFFF0, Rflags = 2, Cr0 = 0x6000_0010 };
        for (int i = 0; i < 6; i++)
        {
            s.Segments[i] = new Segment(0, 0, 0xFFFF, 0x93);
        }

        s.Segments[(int)SegmentName.Cs] = new Segment(0xF000, 0xFFFF_0000, 0xFFFF, 0x9B);
        s.Gdtr.Limit = 0xFFFF;
        s.Idtr.Limit = 0xFFFF;
        s.Ldtr = new Segment(0, 0, 0xFFFF, 0x82);
        s.Tr = new Segment(0, 0, 0xFFFF, 0x8B);
        s.Gpr[2] = edx;
        s.Dr[6] = 0xFFFF_0FF0;
        s.Dr[7] = 0x400;
        return s;
    }

    /// <summary>The TDX initial state (cpu-emulator.md §2.2): flat 32-bit protected mode at 0xFFFFFFF0.</summary>
    public static CpuState TdxReset(ulong tdHobGpa, uint vcpuIndex, uint cpuidSignature, bool gpaw52 = false)
    {
        var s = new CpuState { Rip = 0xFFFF_FFF0, Rflags = 2, Cr0 = 0x21, Cr4 = 0x40, Efer = 0x901 };
        for (int i = 0; i < 6; i++)
        {
            s.Segments[i] = new Segment(0, 0, 0xFFFF_FFFF, 0xC93);
        }

        s.Segments[(int)SegmentName.Cs] = new Segment(0, 0, 0xFFFF_FFFF, 0xC9B);
        s.Gdtr.Limit = 0xFFFF;
        s.Ldtr = new Segment(0, 0, 0xFFFF, 0x82);
        s.Tr = new Segment(0, 0, 0xFFFF, 0x8B);
        s.Gpr[3] = gpaw52 ? 52UL : 48UL;
        s.Gpr[1] = tdHobGpa;
        s.Gpr[8] = tdHobGpa;
        s.Gpr[2] = cpuidSignature;
        s.Gpr[6] = vcpuIndex;
        s.Dr[7] = 0x400;
        return s;
    }
}
