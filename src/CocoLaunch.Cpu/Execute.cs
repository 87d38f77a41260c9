using Iced.Intel;
using static CocoLaunch.Cpu.CpuState;

namespace CocoLaunch.Cpu;

/// <summary>The dispatcher: one case per mnemonic family; widths come from the operands.</summary>
public sealed partial class X86Cpu
{
    private void Execute(ref Instruction i)
    {
        if (i.HasLockPrefix && (i.Op0Kind != OpKind.Memory || !LockAllowed(i.Mnemonic)))
        {
            throw GuestFault.Ud();
        }

        if (i.HasLockPrefix || (i.Mnemonic == Mnemonic.Xchg && (i.Op0Kind == OpKind.Memory || i.Op1Kind == OpKind.Memory)))
        {
            ExecuteLocked(ref i);
            return;
        }

        ExecuteOne(ref i);
    }

    private void ExecuteOne(ref Instruction i)
    {
        switch (i.Mnemonic)
        {
            case Mnemonic.Add or Mnemonic.Adc or Mnemonic.Sub or Mnemonic.Sbb or Mnemonic.And or Mnemonic.Or or Mnemonic.Xor:
                AluBinary(ref i);
                break;
            case Mnemonic.Cmp:
            {
                int s = OpSize(i, 0);
                Sub(ReadOp(i, 0, s), ReadOp(i, 1, s), 0, s);
                break;
            }

            case Mnemonic.Test:
            {
                int s = OpSize(i, 0);
                Logic(ReadOp(i, 0, s) & ReadOp(i, 1, s), s);
                break;
            }

            case Mnemonic.Inc or Mnemonic.Dec:
            {
                int s = OpSize(i, 0);
                ulong cf = State.CarryFlag ? FlagCf : 0; // INC and DEC leave CF alone
                ulong a = ReadOp(i, 0, s) & Mask(s);
                bool inc = i.Mnemonic == Mnemonic.Inc;
                ulong r = (inc ? a + 1 : a - 1) & Mask(s);
                WriteOp(i, 0, s, r);
                State.SetPending(inc ? FlagOp.Inc : FlagOp.Dec, a, cf, r, s);
                break;
            }

            case Mnemonic.Neg:
            {
                int s = OpSize(i, 0);
                ulong v = ReadOp(i, 0, s) & Mask(s);
                ulong r = (0 - v) & Mask(s);
                WriteOp(i, 0, s, r);
                State.SetPending(FlagOp.Sub, 0, v, r, s);
                break;
            }

            case Mnemonic.Not:
            {
                int s = OpSize(i, 0);
                WriteOp(i, 0, s, ~ReadOp(i, 0, s));
                break;
            }

            case Mnemonic.Mov: Mov(ref i); break;
            case Mnemonic.Movzx:
            {
                int s = OpSize(i, 1);
                WriteReg(i.Op0Register, ReadOp(i, 1, s));
                break;
            }

            case Mnemonic.Movsx or Mnemonic.Movsxd:
            {
                int s = OpSize(i, 1);
                WriteReg(i.Op0Register, SignExtend(ReadOp(i, 1, s), s));
                break;
            }

            case Mnemonic.Lea: WriteReg(i.Op0Register, EffectiveAddress(i)); break;
            case Mnemonic.Xchg:
            {
                int s = OpSize(i, 0);
                ulong a = ReadOp(i, 0, s), b = ReadOp(i, 1, s);
                WriteOp(i, 0, s, b);
                WriteOp(i, 1, s, a);
                break;
            }

            case Mnemonic.Xadd:
            {
                int s = OpSize(i, 0);
                ulong a = ReadOp(i, 0, s), b = ReadOp(i, 1, s);
                ulong sum = Add(a, b, 0, s);
                WriteOp(i, 1, s, a);
                WriteOp(i, 0, s, sum);
                break;
            }

            case Mnemonic.Cmpxchg: Cmpxchg(ref i); break;
            case Mnemonic.Cmpxchg8b or Mnemonic.Cmpxchg16b: CmpxchgWide(ref i); break;
            case Mnemonic.Bswap:
            {
                int s = OpSize(i, 0);
                ulong v = ReadReg(i.Op0Register);
                WriteReg(i.Op0Register, s == 8 ? System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(v)
                    : s == 4 ? System.Buffers.Binary.BinaryPrimitives.ReverseEndianness((uint)v) : 0);
                break;
            }

            case Mnemonic.Movbe:
            {
                // A load or store with the bytes reversed; the register side keeps its usual width rules.
                int s = OpSize(i, 0);
                ulong v = ReadOp(i, 1, s);
                WriteOp(i, 0, s, s switch
                {
                    2 => System.Buffers.Binary.BinaryPrimitives.ReverseEndianness((ushort)v),
                    4 => System.Buffers.Binary.BinaryPrimitives.ReverseEndianness((uint)v),
                    _ => System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(v),
                });
                break;
            }

            case Mnemonic.Cbw: WriteReg(Register.AX, SignExtend(State.Gpr[0] & 0xFF, 1)); break;
            case Mnemonic.Cwde: WriteReg(Register.EAX, SignExtend(State.Gpr[0] & 0xFFFF, 2)); break;
            case Mnemonic.Cdqe: State.Gpr[0] = SignExtend(State.Gpr[0] & 0xFFFF_FFFF, 4); break;
            case Mnemonic.Cwd: WriteReg(Register.DX, (State.Gpr[0] & 0x8000) != 0 ? 0xFFFFUL : 0); break;
            case Mnemonic.Cdq: WriteReg(Register.EDX, (State.Gpr[0] & 0x8000_0000) != 0 ? 0xFFFF_FFFF : 0); break;
            case Mnemonic.Cqo: State.Gpr[2] = (State.Gpr[0] & 0x8000_0000_0000_0000) != 0 ? ulong.MaxValue : 0; break;
            case Mnemonic.Shl or Mnemonic.Sal or Mnemonic.Shr or Mnemonic.Sar or Mnemonic.Rol or Mnemonic.Ror or Mnemonic.Rcl or Mnemonic.Rcr:
                Shift(ref i);
                break;
            case Mnemonic.Shld or Mnemonic.Shrd: DoubleShift(ref i); break;
            case Mnemonic.Mul or Mnemonic.Imul: Multiply(ref i); break;
            case Mnemonic.Div or Mnemonic.Idiv: Divide(ref i); break;
            case Mnemonic.Bt or Mnemonic.Bts or Mnemonic.Btr or Mnemonic.Btc: BitTest(ref i); break;
            case Mnemonic.Bsf or Mnemonic.Bsr or Mnemonic.Tzcnt or Mnemonic.Lzcnt or Mnemonic.Popcnt: BitScan(ref i); break;
            case Mnemonic.Push: Push(ref i); break;
            case Mnemonic.Pop: Pop(ref i); break;
            case Mnemonic.Pushf or Mnemonic.Pushfd or Mnemonic.Pushfq:
                PushSized((State.Rflags & ~(0x3UL << 16)) | 2UL, i.Mnemonic == Mnemonic.Pushf ? 2 : i.Mnemonic == Mnemonic.Pushfd ? 4 : 8);
                break;
            case Mnemonic.Popf or Mnemonic.Popfd or Mnemonic.Popfq: Popf(i.Mnemonic == Mnemonic.Popf ? 2 : i.Mnemonic == Mnemonic.Popfd ? 4 : 8); break;
            case Mnemonic.Lahf: WriteReg(Register.AH, (State.Rflags & 0xD5) | 2); break;
            case Mnemonic.Sahf: State.Rflags = (State.Rflags & ~0xD5UL) | ((State.Gpr[0] >> 8) & 0xD5); break;
            case Mnemonic.Clc: State.Rflags &= ~FlagCf; break;
            case Mnemonic.Stc: State.Rflags |= FlagCf; break;
            case Mnemonic.Cmc: State.Rflags ^= FlagCf; break;
            case Mnemonic.Cld: State.Rflags &= ~FlagDf; break;
            case Mnemonic.Std: State.Rflags |= FlagDf; break;
            case Mnemonic.Cli: RequireIopl(); State.Rflags &= ~FlagIf; break;
            case Mnemonic.Sti:
                RequireIopl();
                if ((State.Rflags & FlagIf) == 0)
                {
                    BeginInterruptShadow();
                }

                State.Rflags |= FlagIf;
                break;
            case Mnemonic.Setae or Mnemonic.Seta or Mnemonic.Setb or Mnemonic.Setbe or Mnemonic.Sete or Mnemonic.Setne or Mnemonic.Setg
                or Mnemonic.Setge or Mnemonic.Setl or Mnemonic.Setle or Mnemonic.Seto or Mnemonic.Setno or Mnemonic.Setp or Mnemonic.Setnp
                or Mnemonic.Sets or Mnemonic.Setns:
                WriteOp(i, 0, 1, Condition(i.ConditionCode) ? 1UL : 0);
                break;
            case Mnemonic.Cmova or Mnemonic.Cmovae or Mnemonic.Cmovb or Mnemonic.Cmovbe or Mnemonic.Cmove or Mnemonic.Cmovne or Mnemonic.Cmovg
                or Mnemonic.Cmovge or Mnemonic.Cmovl or Mnemonic.Cmovle or Mnemonic.Cmovo or Mnemonic.Cmovno or Mnemonic.Cmovp or Mnemonic.Cmovnp
                or Mnemonic.Cmovs or Mnemonic.Cmovns:
            {
                int s = OpSize(i, 0);
                ulong v = ReadOp(i, 1, s); // the source is read (and may fault) even when the condition is false
                WriteReg(i.Op0Register, Condition(i.ConditionCode) ? v : ReadReg(i.Op0Register));
                break;
            }

            case Mnemonic.Nop or Mnemonic.Pause or Mnemonic.Endbr64 or Mnemonic.Endbr32 or Mnemonic.Lfence or Mnemonic.Mfence
                or Mnemonic.Sfence or Mnemonic.Prefetchnta or Mnemonic.Prefetcht0 or Mnemonic.Prefetcht1 or Mnemonic.Prefetcht2
                or Mnemonic.Prefetchw or Mnemonic.Clflush or Mnemonic.Wbinvd or Mnemonic.Invd:
                break;
            case Mnemonic.Rdsspd or Mnemonic.Rdsspq:
                // In the 0F 1E hint space: a NOP while shadow stacks are off (SDM RDSSP), and this CPU has no CET.
                // glibc's unwinder runs it unconditionally and takes the destination's unchanged 0 as "no shadow stack".
                break;
            case Mnemonic.Xlatb:
                WriteReg(Register.AL, Read(SegOf(i.MemorySegment), (ReadReg(bitness == 64 ? Register.RBX : bitness == 32 ? Register.EBX : Register.BX) + (State.Gpr[0] & 0xFF)) & Mask(bitness == 16 ? 2 : bitness / 8), 1));
                break;
            default:
                ExecuteByExecutor(ref i);
                break;
        }
    }

    private static bool LockAllowed(Mnemonic m) => m is Mnemonic.Add or Mnemonic.Adc or Mnemonic.And or Mnemonic.Btc or Mnemonic.Btr
        or Mnemonic.Bts or Mnemonic.Cmpxchg or Mnemonic.Cmpxchg8b or Mnemonic.Cmpxchg16b or Mnemonic.Dec or Mnemonic.Inc
        or Mnemonic.Neg or Mnemonic.Not or Mnemonic.Or or Mnemonic.Sbb or Mnemonic.Sub or Mnemonic.Xor or Mnemonic.Xadd or Mnemonic.Xchg;

    internal static ulong SignExtend(ulong v, int size) => size switch
    {
        1 => (ulong)(long)(sbyte)v,
        2 => (ulong)(long)(short)v,
        4 => (ulong)(long)(int)v,
        _ => v,
    };

    private void AluBinary(ref Instruction i)
    {
        int s = OpSize(i, 0);
        ulong m = Mask(s);
        ulong a = ReadOp(i, 0, s) & m, b = ReadOp(i, 1, s) & m;
        ulong carry = i.Mnemonic is Mnemonic.Adc or Mnemonic.Sbb && State.CarryFlag ? 1UL : 0;
        var (r, op) = i.Mnemonic switch
        {
            Mnemonic.Add or Mnemonic.Adc => ((a + b + carry) & m, FlagOp.Add),
            Mnemonic.Sub or Mnemonic.Sbb => ((a - b - carry) & m, FlagOp.Sub),
            Mnemonic.And => (a & b, FlagOp.Logic),
            Mnemonic.Or => (a | b, FlagOp.Logic),
            _ => (a ^ b, FlagOp.Logic),
        };

        // The flags change only once the write has succeeded: a faulting or stopped ADC [mem] must run again
        // with the CF it started with.
        WriteOp(i, 0, s, r);
        State.SetPending(op, op == FlagOp.Logic ? 0 : a, op == FlagOp.Logic ? 0 : b, r, s);
    }

    private void Mov(ref Instruction i)
    {
        var k0 = i.Op0Kind;
        var k1 = i.Op1Kind;
        // The common case first: a GPR or memory destination from a GPR, memory or an immediate.
        if ((k0 != OpKind.Register || Registers.Index[(int)i.Op0Register] >= 0) && (k1 != OpKind.Register || Registers.Index[(int)i.Op1Register] >= 0))
        {
            int size = OpSize(i, 0);
            WriteOp(i, 0, size, ReadOp(i, 1, size));
            return;
        }

        if (k0 == OpKind.Register && i.Op0Register.IsSegmentRegister())
        {
            var seg = SegOf(i.Op0Register);
            if (seg == SegmentName.Cs)
            {
                throw GuestFault.Ud();
            }

            LoadSegment(seg, (ushort)ReadOp(i, 1, 2));
            if (seg == SegmentName.Ss)
            {
                BeginInterruptShadow();
            }

            EndBlock();
            return;
        }

        if (k0 == OpKind.Register && (i.Op0Register.IsCR() || i.Op0Register.IsDR()))
        {
            WriteControlRegister(i.Op0Register, ReadReg(i.Op1Register));
            return;
        }

        if (i.Op1Kind == OpKind.Register && (i.Op1Register.IsCR() || i.Op1Register.IsDR()))
        {
            WriteReg(i.Op0Register, ReadControlRegister(i.Op1Register));
            return;
        }

        if (i.Op1Kind == OpKind.Register && i.Op1Register.IsSegmentRegister())
        {
            ulong sel = State.Segments[(int)SegOf(i.Op1Register)].Selector;
            if (k0 == OpKind.Memory)
            {
                WriteOp(i, 0, 2, sel);
            }
            else
            {
                // MOV r32/r64, Sreg zero-extends.
                WriteReg(i.Op0Register, sel);
            }

            return;
        }

        int s = OpSize(i, 0);
        WriteOp(i, 0, s, ReadOp(i, 1, s));
    }

    private void RequireIopl()
    {
        if ((State.Cr0 & Cr0Pe) != 0 && State.Cpl > (int)((State.Rflags >> 12) & 3))
        {
            throw GuestFault.Gp();
        }
    }

    private void Popf(int size)
    {
        ulong v = PopSized(size);
        // Writable: CF PF AF ZF SF TF DF OF NT AC ID (and IF, IOPL at CPL 0); RF and VM are never popped.
        ulong writable = 0x244FD5UL | (State.Cpl == 0 ? 0x3200UL : State.Cpl <= (int)((State.Rflags >> 12) & 3) ? 0x200UL : 0);
        if (size == 2)
        {
            writable &= 0xFFFF;
        }

        ulong before = State.SystemFlags;
        State.Rflags = (State.Rflags & ~writable) | (v & writable) | 2;
        if (((before ^ State.SystemFlags) & FlagAc) != 0 && (State.Cr4 & Cr4Smap) != 0)
        {
            FlushTlb(); // AC decides what ring 0 may do with user pages, and the TLBs hold that
        }

        EndBlock();
    }
}
