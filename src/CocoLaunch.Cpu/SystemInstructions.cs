using Iced.Intel;
using static CocoLaunch.Cpu.CpuState;

namespace CocoLaunch.Cpu;

/// <summary>Privileged and platform instructions: control registers, descriptor tables, MSRs, I/O, exits.</summary>
public sealed partial class X86Cpu
{
    private long tscBase;

    private bool ExecuteSystem(ref Instruction i)
    {
        switch (i.Mnemonic)
        {
            case Mnemonic.Hlt:
                RequireCpl0();
                Exit(new CpuExit.Halt(State.Rip));
                return true;
            case Mnemonic.Cpuid: Exit(InstructionExit(ExitInstruction.Cpuid, ref i)); return true;
            case Mnemonic.Rdmsr: RequireCpl0(); Msr(ref i, write: false); return true;
            case Mnemonic.Wrmsr: RequireCpl0(); Msr(ref i, write: true); return true;
            case Mnemonic.Vmcall: Exit(InstructionExit(ExitInstruction.Vmcall, ref i)); return true;
            case Mnemonic.Vmmcall: Exit(InstructionExit(ExitInstruction.Vmmcall, ref i)); return true;
            case Mnemonic.Tdcall: Exit(InstructionExit(ExitInstruction.Tdcall, ref i)); return true;
            case Mnemonic.Vmgexit: Exit(InstructionExit(ExitInstruction.Vmgexit, ref i)); return true;
            case Mnemonic.Pvalidate: RequireCpl0(); Exit(InstructionExit(ExitInstruction.Pvalidate, ref i)); return true;
            case Mnemonic.Rmpadjust: RequireCpl0(); Exit(InstructionExit(ExitInstruction.Rmpadjust, ref i)); return true;
            case Mnemonic.Xsetbv:
                RequireOsXsave();
                RequireCpl0();
                Exit(InstructionExit(ExitInstruction.Xsetbv, ref i));
                return true;
            case Mnemonic.Xgetbv:
                RequireOsXsave();
                if ((State.Gpr[1] & 0xFFFF_FFFF) != 0)
                {
                    throw GuestFault.Gp();
                }

                State.Gpr[0] = State.Xcr0 & 0xFFFF_FFFF;
                State.Gpr[2] = State.Xcr0 >> 32;
                return true;
            case Mnemonic.Rdtsc or Mnemonic.Rdtscp:
            {
                if ((State.Cr4 & Cr4Tsd) != 0 && State.Cpl != 0)
                {
                    throw GuestFault.Gp(); // CR4.TSD keeps the TSC from user mode
                }

                // A deterministic TSC: one tick per retired instruction, so runs and tests are repeatable.
                ulong tsc = (ulong)(InstructionsRetired + tscBase);
                State.Gpr[0] = tsc & 0xFFFF_FFFF;
                State.Gpr[2] = tsc >> 32;
                if (i.Mnemonic == Mnemonic.Rdtscp)
                {
                    State.Gpr[1] = State.TscAux & 0xFFFF_FFFF;
                }

                return true;
            }

            case Mnemonic.Rdpid:
                // TSC_AUX without the TSC, at any CPL and whatever CR4.TSD says (SDM RDPID).
                WriteReg(i.Op0Register, State.TscAux);
                return true;
            case Mnemonic.In:
            {
                RequireIoPermission();
                ushort port = i.Op1Kind == OpKind.Register ? (ushort)State.Gpr[2] : i.Immediate8;
                Exit(new CpuExit.PortIn(port, Registers.Size[(int)i.Op0Register]));
                return true;
            }

            case Mnemonic.Out:
            {
                RequireIoPermission();
                ushort port = i.Op0Kind == OpKind.Register ? (ushort)State.Gpr[2] : i.Immediate8;
                int size = Registers.Size[(int)i.Op1Register];
                Exit(new CpuExit.PortOut(port, size, (uint)(State.Gpr[0] & Mask(size))));
                return true;
            }

            case Mnemonic.Lgdt or Mnemonic.Lidt:
            {
                RequireCpl0();
                var seg = SegOf(i.MemorySegment);
                ulong ea = EffectiveAddress(i);
                ushort limit = (ushort)Read(seg, ea, 2);
                ulong @base = Read(seg, ea + 2, bitness == 64 ? 8 : 4);
                if (i.Code is Code.Lgdt_m1632_16 or Code.Lidt_m1632_16)
                {
                    @base &= 0xFF_FFFF; // 16-bit operand size loads 24 bits of base
                }

                ref var table = ref i.Mnemonic == Mnemonic.Lgdt ? ref State.Gdtr : ref State.Idtr;
                table.Base = @base;
                table.Limit = limit;
                return true;
            }

            case Mnemonic.Sgdt or Mnemonic.Sidt:
            {
                RequireUmipAllows();
                var table = i.Mnemonic == Mnemonic.Sgdt ? State.Gdtr : State.Idtr;
                var seg = SegOf(i.MemorySegment);
                ulong ea = EffectiveAddress(i);
                Write(seg, ea, 2, table.Limit);
                Write(seg, ea + 2, bitness == 64 ? 8 : 4, table.Base);
                return true;
            }

            case Mnemonic.Ltr or Mnemonic.Lldt:
            {
                RequireCpl0();
                ushort sel = (ushort)ReadOp(i, 0, 2);
                if (i.Mnemonic == Mnemonic.Lldt && (sel & ~3) == 0)
                {
                    State.Ldtr = new Segment(sel, 0, 0, 0x82);
                    return true;
                }

                ulong low = ReadDescriptor(sel);
                var s = Segment.FromDescriptor(sel, low);
                if (State.LongMode)
                {
                    s.Base |= ReadLinear(State.Gdtr.Base + (ulong)(sel & ~7) + 8, 4) << 32;
                }

                if (i.Mnemonic == Mnemonic.Ltr)
                {
                    // Mark the TSS busy in the GDT, as LTR does.
                    WriteLinear(State.Gdtr.Base + (ulong)(sel & ~7) + 5, 1, (low >> 40 | 2) & 0xFF);
                    s.Attributes |= 2;
                    State.Tr = s;
                }
                else
                {
                    State.Ldtr = s;
                }

                return true;
            }

            case Mnemonic.Str: RequireUmipAllows(); WriteOp(i, 0, OpSize(i, 0) == 0 ? 2 : OpSize(i, 0), State.Tr.Selector); return true;
            case Mnemonic.Sldt: RequireUmipAllows(); WriteOp(i, 0, OpSize(i, 0) == 0 ? 2 : OpSize(i, 0), State.Ldtr.Selector); return true;
            case Mnemonic.Smsw: RequireUmipAllows(); WriteOp(i, 0, OpSize(i, 0), State.Cr0 & 0xFFFF); return true;
            case Mnemonic.Verr or Mnemonic.Verw:
                if ((State.Cr0 & Cr0Pe) == 0)
                {
                    throw GuestFault.Ud();
                }

                State.Rflags = Accessible((ushort)ReadOp(i, 0, 2), write: i.Mnemonic == Mnemonic.Verw) ? State.Rflags | FlagZf : State.Rflags & ~FlagZf;
                return true;
            case Mnemonic.Lmsw:
                RequireCpl0();
                // LMSW sets PE but cannot clear it, and touches only MP, EM, TS.
                WriteControlRegister(Register.CR0, (State.Cr0 & ~0xEUL) | (ReadOp(i, 0, 2) & 0xF) | (State.Cr0 & Cr0Pe));
                return true;
            case Mnemonic.Clts: RequireCpl0(); State.Cr0 &= ~Cr0Ts; return true;
            case Mnemonic.Invlpg:
                RequireCpl0();
                FlushTlbPage(MemoryLinear(i, 1));
                EndBlock();
                return true;
            case Mnemonic.Swapgs:
            {
                if (bitness != 64)
                {
                    throw GuestFault.Ud();
                }

                RequireCpl0();
                ref var gs = ref State.Segments[(int)SegmentName.Gs];
                (gs.Base, State.KernelGsBase) = (State.KernelGsBase, gs.Base);
                return true;
            }

            case Mnemonic.Fninit:
                State.FpuControl = 0x037F;
                State.FpuStatus = 0;
                State.FpuTag = 0xFFFF;
                return true;
            case Mnemonic.Fnclex:
                State.FpuStatus &= 0x7F00; // the exception flags, stack fault, ES and B go; C0–C3 and TOP stay
                return true;
            case Mnemonic.Fnstcw: WriteOp(i, 0, 2, State.FpuControl); return true;
            case Mnemonic.Fldcw: State.FpuControl = (ushort)ReadOp(i, 0, 2); return true;
            case Mnemonic.Fnstsw:
                if (i.Op0Kind == OpKind.Register)
                {
                    WriteReg(Register.AX, State.FpuStatus);
                }
                else
                {
                    WriteOp(i, 0, 2, State.FpuStatus);
                }

                return true;
            case Mnemonic.Wait or Mnemonic.Emms:
                return true;
            default:
                return false;
        }
    }

    /// <summary>
    /// VERR/VERW's test (SDM VERR/VERW): a code or data descriptor inside the table, that the CPL and RPL may use
    /// (conforming code whatever the DPL), readable or writable. Linux's return to user mode runs VERW for its
    /// side effect on hardware (clearing CPU buffers); here only ZF is produced.
    /// </summary>
    private bool Accessible(ushort selector, bool write)
    {
        bool ldt = (selector & 4) != 0;
        ulong limit = ldt ? State.Ldtr.Limit : State.Gdtr.Limit;
        if ((selector & ~3) == 0 || (ulong)(selector & ~7) + 7 > limit || (ldt && State.Ldtr.Selector == 0))
        {
            return false;
        }

        var s = Segment.FromDescriptor(selector, ReadDescriptor(selector));
        bool conforming = s.IsCode && (s.Attributes & 4) != 0;
        if ((s.Attributes & 0x10) == 0 || (!conforming && (State.Cpl > s.Dpl || (selector & 3) > s.Dpl)))
        {
            return false;
        }

        return write ? s.IsWritableData : !s.IsCode || (s.Attributes & 2) != 0;
    }

    private CpuExit.InstructionExit InstructionExit(ExitInstruction what, ref Instruction i) => new(what, instructionRip, i.Length);

    private void RequireCpl0()
    {
        if (State.Cpl != 0)
        {
            throw GuestFault.Gp();
        }
    }

    private void RequireIoPermission()
    {
        // Without an I/O bitmap check: CPL > IOPL in protected mode is #GP, as with a TSS whose bitmap denies all.
        if ((State.Cr0 & Cr0Pe) != 0 && State.Cpl > (int)((State.Rflags >> 12) & 3))
        {
            throw GuestFault.Gp();
        }
    }

    private void Msr(ref Instruction i, bool write)
    {
        uint index = (uint)State.Gpr[1];
        ulong value = (State.Gpr[2] << 32) | (State.Gpr[0] & 0xFFFF_FFFF);
        if (!platform.InterceptsMsr(index, write) && TryModelMsr(index, write, ref value))
        {
            if (!write)
            {
                State.Gpr[0] = value & 0xFFFF_FFFF;
                State.Gpr[2] = value >> 32;
            }

            return;
        }

        Exit(InstructionExit(write ? ExitInstruction.Wrmsr : ExitInstruction.Rdmsr, ref i));
    }

    /// <summary>The MSRs the CPU itself holds; the rest go to the platform.</summary>
    private bool TryModelMsr(uint index, bool write, ref ulong value)
    {
        // Addresses the CPU later loads without a check must be canonical, and TSC_AUX is 32 bits (SDM WRMSR).
        if (write && ((index is 0xC000_0100 or 0xC000_0101 or 0xC000_0102 or 0xC000_0082 or 0x175 or 0x176 && !IsCanonical(value))
            || (index == 0xC000_0103 && (value >> 32) != 0)))
        {
            throw GuestFault.Gp();
        }

        ref ulong slot = ref State.Star;
        switch (index)
        {
            case 0xC000_0080:
                if (write)
                {
                    WriteEfer(value);
                }
                else
                {
                    value = State.Efer;
                }

                return true;
            case 0xC000_0100: slot = ref State.Segments[(int)SegmentName.Fs].Base; break;
            case 0xC000_0101: slot = ref State.Segments[(int)SegmentName.Gs].Base; break;
            case 0xC000_0102: slot = ref State.KernelGsBase; break;
            case 0xC000_0081: slot = ref State.Star; break;
            case 0xC000_0082: slot = ref State.Lstar; break;
            case 0xC000_0083: slot = ref State.Cstar; break;
            case 0xC000_0084: slot = ref State.Sfmask; break;
            case 0xC000_0103: slot = ref State.TscAux; break;
            case 0x277: slot = ref State.Pat; break;
            case 0x174: slot = ref State.SysenterCs; break;
            case 0x175: slot = ref State.SysenterEsp; break;
            case 0x176: slot = ref State.SysenterEip; break;
            case 0x1B: slot = ref State.ApicBase; break;
            case 0x10:
                if (write)
                {
                    tscBase = (long)value - InstructionsRetired;
                }
                else
                {
                    value = (ulong)(InstructionsRetired + tscBase);
                }

                return true;
            default:
                return false;
        }

        if (write)
        {
            slot = value;
        }
        else
        {
            value = slot;
        }

        return true;
    }

    private void WriteEfer(ulong value)
    {
        // LMA is read-only: it follows LME once paging is enabled.
        ulong lma = State.Efer & EferLma;
        if ((State.Cr0 & Cr0Pg) != 0 && ((value ^ State.Efer) & EferLme) != 0)
        {
            throw GuestFault.Gp();
        }

        State.Efer = (value & ~EferLma) | lma;
        FlushTlb();
        EndBlock();
    }

    private ulong ReadControlRegister(Register r)
    {
        RequireCpl0();
        return r switch
        {
            Register.CR0 => State.Cr0,
            Register.CR2 => State.Cr2,
            Register.CR3 => State.Cr3,
            Register.CR4 => State.Cr4,
            Register.CR8 => State.Cr8,
            >= Register.DR0 and <= Register.DR7 => State.Dr[r - Register.DR0],
            _ => throw GuestFault.Ud(),
        };
    }

    private void WriteControlRegister(Register r, ulong value)
    {
        RequireCpl0();
        switch (r)
        {
            case Register.CR0:
            {
                // PG without PE is #GP, and so is turning paging off with PCIDE set (SDM MOV CR).
                if (((value & Cr0Pg) != 0 && (value & Cr0Pe) == 0) || ((value & Cr0Pg) == 0 && (State.Cr4 & Cr4Pcide) != 0))
                {
                    throw GuestFault.Gp();
                }

                bool pagingOn = (value & Cr0Pg) != 0 && (State.Cr0 & Cr0Pg) == 0;
                bool pagingOff = (value & Cr0Pg) == 0 && (State.Cr0 & Cr0Pg) != 0;
                if (pagingOn && (State.Efer & EferLme) != 0)
                {
                    if ((State.Cr4 & Cr4Pae) == 0)
                    {
                        throw GuestFault.Gp();
                    }

                    State.Efer |= EferLma;
                }
                else if (pagingOff)
                {
                    State.Efer &= ~EferLma;
                }

                State.Cr0 = (value & 0xFFFF_FFFF) | 0x10; // ET is hard-wired to 1
                break;
            }

            case Register.CR2: State.Cr2 = value; break;
            case Register.CR3: State.Cr3 = Cr3Value(value); break;
            case Register.CR4:
                CheckCr4(value);
                State.Cr4 = value;
                break;
            case Register.CR8: State.Cr8 = value & 0xF; break;
            case >= Register.DR0 and <= Register.DR7: State.Dr[r - Register.DR0] = value; break;
            default: throw GuestFault.Ud();
        }

        // CR0 (PG, WP), CR3 and CR4 (paging modes, SMEP/SMAP) decide translations; CR2, CR8 and the debug
        // registers do not.
        if (r is Register.CR0 or Register.CR3 or Register.CR4)
        {
            FlushTlb();
        }

        UpdateMode();
        EndBlock();
    }
}
