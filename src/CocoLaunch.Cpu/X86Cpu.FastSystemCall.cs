using Iced.Intel;
using static CocoLaunch.Cpu.CpuState;

namespace CocoLaunch.Cpu;

/// <summary>
/// SYSCALL/SYSRET and SYSENTER/SYSEXIT: privilege changes without descriptor reads. The selectors come from MSRs and
/// the hidden parts are forced to flat values, so the OS must keep its GDT consistent with them (Intel SDM Vol. 3A
/// §5.8.7–5.8.8; AMD APM Vol. 2 §6.1). Where the vendors differ, <see cref="Vendor"/> picks the manual.
/// </summary>
public sealed partial class X86Cpu
{
    // Forced descriptor caches, in Segment's attribute packing: type, S, DPL, P, L, D/B, G; base 0, limit 4 GiB.
    private const ushort Code64Dpl0 = 0xA9B, Code32Dpl0 = 0xC9B, Data32Dpl0 = 0xC93;
    private const ushort Code64Dpl3 = 0xAFB, Code32Dpl3 = 0xCFB, Data32Dpl3 = 0xCF3;

    // SYSRET loads RFLAGS from R11 through this mask: RF, VM and the reserved bits cleared, bit 1 set (SDM SYSRET).
    private const ulong SysretFlagsMask = 0x3C_7FD7;

    private bool ExecuteFastSystemCall(ref Instruction i)
    {
        switch (i.Mnemonic)
        {
            case Mnemonic.Syscall: Syscall(); return true;
            case Mnemonic.Sysret or Mnemonic.Sysretq: Sysret(i.Code == Code.Sysretq); return true;
            case Mnemonic.Sysenter: Sysenter(); return true;
            case Mnemonic.Sysexit or Mnemonic.Sysexitq: Sysexit(i.Code == Code.Sysexitq); return true;
            default: return false;
        }
    }

    private void Syscall()
    {
        // Intel has SYSCALL in 64-bit mode only; AMD also in compatibility and legacy protected mode.
        bool protectedMode = (State.Cr0 & Cr0Pe) != 0;
        if ((State.Efer & EferSce) == 0 || (Vendor == CpuVendor.Intel ? bitness != 64 : !protectedMode))
        {
            throw GuestFault.Ud();
        }

        ushort cs = (ushort)(State.Star >> 32);
        ulong next = State.Rip;
        ulong flags = State.Rflags;
        if (State.LongMode)
        {
            State.Gpr[1] = next;
            State.Gpr[11] = flags & ~FlagRf;
            State.Rflags = flags & ~(State.Sfmask | FlagRf);
            State.Rip = bitness == 64 ? State.Lstar : State.Cstar; // CSTAR: AMD's compatibility-mode entry
            EnterFlat((ushort)(cs & 0xFFFC), Code64Dpl0, (ushort)(cs + 8), Data32Dpl0);
        }
        else
        {
            // AMD legacy mode: ECX gets the return EIP, EIP comes from STAR[31:0], and no R11 exists.
            State.Gpr[1] = next & 0xFFFF_FFFF;
            State.Rflags = flags & ~(FlagVm | FlagIf | FlagRf);
            State.Rip = State.Star & 0xFFFF_FFFF;
            EnterFlat((ushort)(cs & 0xFFFC), Code32Dpl0, (ushort)(cs + 8), Data32Dpl0);
        }
    }

    private void Sysret(bool to64)
    {
        bool protectedMode = (State.Cr0 & Cr0Pe) != 0;
        if ((State.Efer & EferSce) == 0 || (Vendor == CpuVendor.Intel ? bitness != 64 : !protectedMode))
        {
            throw GuestFault.Ud();
        }

        RequireCpl0();
        ushort sel = (ushort)(State.Star >> 48);
        ulong rcx = State.Gpr[1];
        if (!State.LongMode)
        {
            // AMD legacy mode: back to 32-bit code with IF set; RFLAGS is otherwise kept.
            State.Rflags |= FlagIf;
            State.Rip = rcx & 0xFFFF_FFFF;
            ReturnFlat((ushort)(sel | 3), Code32Dpl3, (ushort)((sel + 8) | 3), forceSsCache: false);
            return;
        }

        // Intel checks RCX in ring 0 (#GP on the kernel stack); AMD loads it and faults on the fetch at CPL 3.
        if (to64 && Vendor == CpuVendor.Intel && !IsCanonical(rcx))
        {
            throw GuestFault.Gp();
        }

        State.Rflags = (State.Gpr[11] & SysretFlagsMask) | 2;
        State.Rip = to64 ? rcx : rcx & 0xFFFF_FFFF;
        ReturnFlat(to64 ? (ushort)((sel + 16) | 3) : (ushort)(sel | 3), to64 ? Code64Dpl3 : Code32Dpl3, (ushort)((sel + 8) | 3), forceSsCache: Vendor == CpuVendor.Intel);
    }

    private void Sysenter()
    {
        // AMD has no SYSENTER in long mode (APM SYSENTER: #UD); Intel enters 64-bit code from compatibility mode.
        if (Vendor == CpuVendor.Amd && State.LongMode)
        {
            throw GuestFault.Ud();
        }

        if ((State.Cr0 & Cr0Pe) == 0 || (State.SysenterCs & 0xFFFC) == 0)
        {
            throw GuestFault.Gp();
        }

        State.Rflags &= ~(FlagVm | FlagIf | FlagRf);
        bool longMode = State.LongMode;
        State.Gpr[4] = longMode ? State.SysenterEsp : State.SysenterEsp & 0xFFFF_FFFF;
        State.Rip = longMode ? State.SysenterEip : State.SysenterEip & 0xFFFF_FFFF;
        ushort cs = (ushort)(State.SysenterCs & 0xFFFC);
        EnterFlat(cs, longMode ? Code64Dpl0 : Code32Dpl0, (ushort)(cs + 8), Data32Dpl0);
    }

    private void Sysexit(bool to64)
    {
        if (Vendor == CpuVendor.Amd && State.LongMode)
        {
            throw GuestFault.Ud();
        }

        if ((State.Cr0 & Cr0Pe) == 0 || (State.SysenterCs & 0xFFFC) == 0)
        {
            throw GuestFault.Gp();
        }

        RequireCpl0();
        ulong rsp = State.Gpr[1], rip = State.Gpr[2];
        if (to64 && (!IsCanonical(rsp) || !IsCanonical(rip)))
        {
            throw GuestFault.Gp();
        }

        State.Gpr[4] = to64 ? rsp : rsp & 0xFFFF_FFFF;
        State.Rip = to64 ? rip : rip & 0xFFFF_FFFF;
        ushort cs = (ushort)((State.SysenterCs + (to64 ? 32UL : 16UL)) | 3);
        ReturnFlat(cs, to64 ? Code64Dpl3 : Code32Dpl3, (ushort)(cs + 8), forceSsCache: true);
    }

    private void EnterFlat(ushort cs, ushort csAttributes, ushort ss, ushort ssAttributes)
    {
        State.Cs = new Segment(cs, 0, 0xFFFF_FFFF, csAttributes);
        State.Ss = new Segment(ss, 0, 0xFFFF_FFFF, ssAttributes);
        PrivilegeChanged();
    }

    /// <summary>
    /// Back to CPL 3 with a forced flat CS. SS's selector is loaded; its cache is forced to a flat DPL 3 stack too,
    /// except by AMD's SYSRET, which leaves it as it was (APM SYSRET; Linux's X86_BUG_SYSRET_SS_ATTRS).
    /// </summary>
    private void ReturnFlat(ushort cs, ushort csAttributes, ushort ss, bool forceSsCache)
    {
        State.Cs = new Segment(cs, 0, 0xFFFF_FFFF, csAttributes);
        State.Ss = forceSsCache ? new Segment(ss, 0, 0xFFFF_FFFF, Data32Dpl3) : State.Ss with { Selector = ss };
        PrivilegeChanged();
    }

    /// <summary>CPL and code size changed: the TLBs are filled per CPL, and the block was decoded for the old mode.</summary>
    private void PrivilegeChanged()
    {
        UpdateMode();
        State.Rip &= ipMask;
        FlushTlb();
        EndBlock();
    }

    internal static bool IsCanonical(ulong address) => (ulong)((long)(address << 16) >> 16) == address;
}
