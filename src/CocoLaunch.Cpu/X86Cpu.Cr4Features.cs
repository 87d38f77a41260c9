using Iced.Intel;
using static CocoLaunch.Cpu.CpuState;

namespace CocoLaunch.Cpu;

/// <summary>
/// Instructions and rules switched on by CR4 bits a kernel sets once it has seen them in CPUID: SMAP's CLAC/STAC,
/// UMIP, FSGSBASE, PCIDE with INVPCID and MOV CR3's no-flush bit. Without the CR4 bit each behaves as on a CPU
/// whose OS has not enabled the feature.
/// </summary>
public sealed partial class X86Cpu
{
    private bool ExecuteCr4Feature(ref Instruction i)
    {
        switch (i.Mnemonic)
        {
            case Mnemonic.Clac or Mnemonic.Stac:
                // #UD at CPL > 0 (SDM CLAC/STAC), whatever CR4.SMAP says.
                if (State.Cpl != 0)
                {
                    throw GuestFault.Ud();
                }

                SetAlignmentFlag(i.Mnemonic == Mnemonic.Stac);
                return true;
            case Mnemonic.Rdfsbase or Mnemonic.Rdgsbase:
                RequireFsGsBase();
                WriteReg(i.Op0Register, State.Segments[(int)(i.Mnemonic == Mnemonic.Rdfsbase ? SegmentName.Fs : SegmentName.Gs)].Base);
                return true;
            case Mnemonic.Wrfsbase or Mnemonic.Wrgsbase:
            {
                RequireFsGsBase();
                ulong value = ReadReg(i.Op0Register); // a 32-bit source is zero-extended
                if (!IsCanonical(value))
                {
                    throw GuestFault.Gp();
                }

                State.Segments[(int)(i.Mnemonic == Mnemonic.Wrfsbase ? SegmentName.Fs : SegmentName.Gs)].Base = value;
                return true;
            }

            case Mnemonic.Invpcid: Invpcid(ref i); return true;
            default: return false;
        }
    }

    /// <summary>
    /// RFLAGS.AC changed. With SMAP it decides whether ring 0 may touch user pages, and the TLBs hold what the
    /// current mode may do, so they go; the block ends so the next one starts with the new alignment-check state.
    /// </summary>
    private void SetAlignmentFlag(bool set)
    {
        State.Rflags = set ? State.Rflags | FlagAc : State.Rflags & ~FlagAc;
        if ((State.Cr4 & Cr4Smap) != 0)
        {
            FlushTlb();
        }

        EndBlock();
    }

    /// <summary>SGDT, SIDT, SLDT, SMSW and STR outside ring 0 once the OS set CR4.UMIP: #GP(0) (SDM Vol. 3A §2.5).</summary>
    private void RequireUmipAllows()
    {
        if ((State.Cr4 & Cr4Umip) != 0 && State.Cpl > 0)
        {
            throw GuestFault.Gp();
        }
    }

    /// <summary>RD/WR FS/GS BASE: 64-bit mode with CR4.FSGSBASE, else #UD (SDM RDFSBASE/WRFSBASE).</summary>
    private void RequireFsGsBase()
    {
        if (bitness != 64 || (State.Cr4 & Cr4FsGsBase) == 0)
        {
            throw GuestFault.Ud();
        }
    }

    /// <summary>
    /// INVPCID (SDM INVPCID): type 0 one address of one PCID, 1 one PCID, 2 everything, 3 everything but global
    /// pages. The TLBs here are not tagged by PCID, so every type but 0 drops them all, which is never less than asked.
    /// </summary>
    private void Invpcid(ref Instruction i)
    {
        RequireCpl0();
        ulong type = ReadReg(i.Op0Register);
        var seg = SegOf(i.MemorySegment);
        ulong ea = EffectiveAddress(i);
        ulong pcidWord = Read(seg, ea, 8);
        ulong linear = Read(seg, ea + 8, 8);
        bool pcide = (State.Cr4 & Cr4Pcide) != 0;
        if (type > 3 || (pcidWord >> 12) != 0 || (type <= 1 && !pcide && (pcidWord & 0xFFF) != 0) || (type == 0 && !IsCanonical(linear)))
        {
            throw GuestFault.Gp();
        }

        if (type == 0)
        {
            FlushTlbPage(linear);
        }
        else
        {
            FlushTlb();
        }

        EndBlock();
    }

    /// <summary>
    /// MOV to CR3 in long mode. With CR4.PCIDE, bit 63 asks to keep the TLBs and is not stored (SDM Vol. 3A §4.10.4.1);
    /// keeping nothing is always allowed, so this flushes anyway. Without PCIDE bit 63 is reserved: #GP(0).
    /// </summary>
    private ulong Cr3Value(ulong value)
    {
        const ulong noFlush = 1UL << 63;
        if (State.LongMode && (value & noFlush) != 0)
        {
            if ((State.Cr4 & Cr4Pcide) == 0)
            {
                throw GuestFault.Gp();
            }

            value &= ~noFlush;
        }

        return value;
    }

    /// <summary>The MOV to CR4 checks (SDM MOV CR): reserved high bits, PAE and LA57 fixed in long mode, PCIDE only in long mode with PCID 0.</summary>
    private void CheckCr4(ulong value)
    {
        ulong changed = value ^ State.Cr4;
        bool pcideOn = (value & Cr4Pcide) != 0 && (State.Cr4 & Cr4Pcide) == 0;
        if ((value >> 32) != 0
            || (State.LongMode && ((value & Cr4Pae) == 0 || (changed & Cr4La57) != 0))
            || (pcideOn && (!State.LongMode || (State.Cr3 & 0xFFF) != 0)))
        {
            throw GuestFault.Gp();
        }
    }
}
