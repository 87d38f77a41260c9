using System.Reflection.Emit;
using Iced.Intel;
using FlowControl = Iced.Intel.FlowControl;

namespace CocoLaunch.Cpu.Jit;

/// <summary>The compiled instruction families: each mirrors the interpreter's definition, operand by operand.</summary>
internal sealed partial class BlockCompiler
{
    private static InstructionPlan Classify(in Instruction i, int bitness)
    {
        if (!i.HasLockPrefix && IsCompiledSse(i))
        {
            return InstructionPlan.Sse;
        }

        if (i.IsStringInstruction && i.Mnemonic is not (Mnemonic.Insb or Mnemonic.Insw or Mnemonic.Insd or Mnemonic.Outsb or Mnemonic.Outsw
            or Mnemonic.Outsd) && !i.HasLockPrefix)
        {
            return InstructionPlan.String; // its operands are the implicit [RSI] and [RDI]
        }

        if (i.HasLockPrefix || !IsGprOrMemoryOrImmediate(i) && i.FlowControl == FlowControl.Next)
        {
            return InstructionPlan.Interpret;
        }

        bool long64 = bitness == 64;
        switch (i.Mnemonic)
        {
            case Mnemonic.Nop or Mnemonic.Pause or Mnemonic.Endbr64 or Mnemonic.Endbr32 or Mnemonic.Lfence or Mnemonic.Mfence
                or Mnemonic.Sfence or Mnemonic.Prefetchnta or Mnemonic.Prefetcht0 or Mnemonic.Prefetcht1 or Mnemonic.Prefetcht2
                or Mnemonic.Prefetchw:
                return InstructionPlan.Nop;
            case Mnemonic.Mov: return InstructionPlan.Mov;
            case Mnemonic.Movzx: return InstructionPlan.Movzx;
            case Mnemonic.Movsx or Mnemonic.Movsxd: return InstructionPlan.Movsx;
            case Mnemonic.Lea: return InstructionPlan.Lea;
            case Mnemonic.Add or Mnemonic.Adc or Mnemonic.Sub or Mnemonic.Sbb or Mnemonic.And or Mnemonic.Or or Mnemonic.Xor
                or Mnemonic.Cmp or Mnemonic.Test:
                return InstructionPlan.Alu;
            case Mnemonic.Inc or Mnemonic.Dec: return InstructionPlan.IncDec;
            case Mnemonic.Neg: return InstructionPlan.Neg;
            case Mnemonic.Not: return InstructionPlan.Not;
            case Mnemonic.Sete or Mnemonic.Setne or Mnemonic.Setb or Mnemonic.Setae or Mnemonic.Setbe or Mnemonic.Seta or Mnemonic.Setl
                or Mnemonic.Setge or Mnemonic.Setle or Mnemonic.Setg or Mnemonic.Sets or Mnemonic.Setns or Mnemonic.Seto or Mnemonic.Setno
                or Mnemonic.Setp or Mnemonic.Setnp:
                return InstructionPlan.Setcc;
            case Mnemonic.Cmove or Mnemonic.Cmovne or Mnemonic.Cmovb or Mnemonic.Cmovae or Mnemonic.Cmovbe or Mnemonic.Cmova or Mnemonic.Cmovl
                or Mnemonic.Cmovge or Mnemonic.Cmovle or Mnemonic.Cmovg or Mnemonic.Cmovs or Mnemonic.Cmovns or Mnemonic.Cmovo or Mnemonic.Cmovno
                or Mnemonic.Cmovp or Mnemonic.Cmovnp:
                return InstructionPlan.Cmovcc;
            case Mnemonic.Shl or Mnemonic.Sal or Mnemonic.Shr or Mnemonic.Sar or Mnemonic.Rol or Mnemonic.Ror or Mnemonic.Rcl or Mnemonic.Rcr:
                return i.Op1Kind == OpKind.Immediate8 || i.Op1Register == Register.CL ? InstructionPlan.Shift : InstructionPlan.Interpret;
            case Mnemonic.Imul when i.OpCount >= 2:
                return InstructionPlan.Imul;
            case Mnemonic.Mul or Mnemonic.Imul or Mnemonic.Div or Mnemonic.Idiv:
                return InstructionPlan.MulDiv;
            case Mnemonic.Bt or Mnemonic.Bts or Mnemonic.Btr or Mnemonic.Btc:
                // A register bit offset into memory addresses beyond the operand: left to the interpreter.
                return i.Op0Kind == OpKind.Memory && i.Op1Kind == OpKind.Register ? InstructionPlan.Interpret : InstructionPlan.BitTest;
            case Mnemonic.Bsf or Mnemonic.Bsr or Mnemonic.Tzcnt or Mnemonic.Lzcnt or Mnemonic.Popcnt:
                return InstructionPlan.BitScan;
            case Mnemonic.Cdqe or Mnemonic.Cqo or Mnemonic.Cdq:
                return InstructionPlan.SignExtendAccumulator;
            case Mnemonic.Ja or Mnemonic.Jae or Mnemonic.Jb or Mnemonic.Jbe or Mnemonic.Je or Mnemonic.Jne or Mnemonic.Jg or Mnemonic.Jge
                or Mnemonic.Jl or Mnemonic.Jle or Mnemonic.Jo or Mnemonic.Jno or Mnemonic.Jp or Mnemonic.Jnp or Mnemonic.Js or Mnemonic.Jns:
                return InstructionPlan.Jcc;
            case Mnemonic.Jmp when i.Op0Kind is OpKind.NearBranch16 or OpKind.NearBranch32 or OpKind.NearBranch64
                || (long64 && i.Op0Kind == OpKind.Register && Registers.Size[(int)i.Op0Register] == 8)
                || (long64 && i.Op0Kind == OpKind.Memory && i.MemorySize == MemorySize.UInt64):
                return InstructionPlan.Jmp;
            case Mnemonic.Call when long64 && i.StackPointerIncrement == -8 && (i.Op0Kind == OpKind.NearBranch64
                || (i.Op0Kind == OpKind.Register && Registers.Size[(int)i.Op0Register] == 8)
                || (i.Op0Kind == OpKind.Memory && i.MemorySize == MemorySize.UInt64)):
                return InstructionPlan.Call;
            case Mnemonic.Ret when long64 && i.Code is Code.Retnq or Code.Retnq_imm16:
                return InstructionPlan.Ret;
            case Mnemonic.Push when long64 && i.StackPointerIncrement == -8 && IsGprOrMemoryOrImmediate(i):
                return InstructionPlan.Push;
            case Mnemonic.Pop when long64 && i.StackPointerIncrement == 8 && i.Op0Kind == OpKind.Register && Registers.Index[(int)i.Op0Register] >= 0:
                return InstructionPlan.Pop;
            default:
                return InstructionPlan.Interpret;
        }
    }

    /// <summary>Emits one instruction; true when it ended the block (a branch that set RIP and returned).</summary>
    private bool EmitInstruction(InstructionPlan plan, in Instruction i, int k, bool flagsLive)
    {
        if (HasMemoryOperand(i) && plan is not (InstructionPlan.Interpret or InstructionPlan.Nop))
        {
            EffectiveAddress(i);
        }

        switch (plan)
        {
            case InstructionPlan.Nop:
                break;
            case InstructionPlan.Mov:
            {
                int s = X86Cpu.OpSize(i, 0);
                LoadOperand(i, 1, s);
                il.Emit(OpCodes.Stloc, value);
                StoreOperand(i, 0, s, value, k);
                break;
            }

            case InstructionPlan.Movzx:
                LoadOperand(i, 1, X86Cpu.OpSize(i, 1));
                il.Emit(OpCodes.Stloc, value);
                StoreRegister(i.Op0Register, value);
                break;
            case InstructionPlan.Movsx:
            {
                int s = X86Cpu.OpSize(i, 1);
                LoadOperand(i, 1, s);
                SignExtend(s);
                il.Emit(OpCodes.Stloc, value);
                StoreRegister(i.Op0Register, value);
                break;
            }

            case InstructionPlan.Lea:
                StoreRegister(i.Op0Register, ea);
                break;
            case InstructionPlan.Alu: EmitAlu(i, k, flagsLive); break;
            case InstructionPlan.IncDec or InstructionPlan.Neg or InstructionPlan.Not: EmitUnary(plan, i, k, flagsLive); break;
            case InstructionPlan.Setcc:
                EmitCondition(i.ConditionCode);
                il.Emit(OpCodes.Conv_U8);
                il.Emit(OpCodes.Stloc, value);
                StoreOperand(i, 0, 1, value, k);
                break;
            case InstructionPlan.Cmovcc:
            {
                // The source is read (and may fault) whatever the condition; a false condition still rewrites the
                // destination, which clears the upper half of a 32-bit register.
                var keep = il.DefineLabel();
                LoadOperand(i, 1, X86Cpu.OpSize(i, 0));
                il.Emit(OpCodes.Stloc, value);
                EmitCondition(i.ConditionCode);
                il.Emit(OpCodes.Brtrue, keep);
                LoadRegister(i.Op0Register);
                il.Emit(OpCodes.Stloc, value);
                il.MarkLabel(keep);
                StoreRegister(i.Op0Register, value);
                break;
            }

            case InstructionPlan.Shift: EmitShift(i, k, flagsLive && X86Cpu.LazyShift(i.Mnemonic) is not null); break;
            case InstructionPlan.ShiftFlags: EmitShift(i, k, flagsLive: true); break;
            case InstructionPlan.Imul or InstructionPlan.ImulFlags:
            {
                int s = X86Cpu.OpSize(i, 0);
                bool withFlags = plan == InstructionPlan.ImulFlags;
                if (withFlags)
                {
                    il.Emit(OpCodes.Ldarg_1); // the interpreter's ImulValue computes CF/OF (and AMD's SZP)
                }

                if (i.OpCount == 3)
                {
                    LoadOperand(i, 1, s);
                    LoadOperand(i, 2, s);
                }
                else
                {
                    LoadRegister(i.Op0Register);
                    LoadOperand(i, 1, s);
                }

                if (withFlags)
                {
                    Const(s);
                    il.Emit(OpCodes.Call, ImulValue);
                }
                else
                {
                    il.Emit(OpCodes.Mul); // the low half of a product is the same signed or unsigned
                    Truncate(s);
                }

                il.Emit(OpCodes.Stloc, value);
                StoreRegister(i.Op0Register, value);
                break;
            }

            case InstructionPlan.SignExtendAccumulator: EmitSignExtendAccumulator(i); break;
            case InstructionPlan.MulDiv:
            {
                // The operand inline; the double-width product or quotient in the interpreter's arithmetic, which
                // raises #DE as the interpreter does.
                int s = X86Cpu.OpSize(i, 0);
                il.Emit(OpCodes.Ldarg_1);
                LoadOperand(i, 0, s);
                Const(s);
                bool divide = i.Mnemonic is Mnemonic.Div or Mnemonic.Idiv;
                il.Emit(i.Mnemonic is Mnemonic.Imul or Mnemonic.Idiv ? OpCodes.Ldc_I4_1 : OpCodes.Ldc_I4_0);
                WriteBackRegisters(onPath: true); // the helper reads and writes RAX and RDX in the state
                il.Emit(OpCodes.Call, divide ? DivideAccumulator : MultiplyAccumulator);
                ReloadRegisters((1 << 0) | (1 << 2));
                break;
            }

            case InstructionPlan.BitTest: EmitBitTest(i, k); break;
            case InstructionPlan.String:
            {
                // The whole REP loop in the string executor (a fill or copy per page where the TLB allows), which
                // reads and writes the registers in the state.
                WriteBackRegisters(onPath: true);
                il.Emit(OpCodes.Ldarg_1);
                LoadInstructionAddress(k);
                il.Emit(OpCodes.Call, StringInstruction);
                il.Emit(OpCodes.Pop);
                ReloadRegisters();
                ExitIfWriteStops(k, i);
                break;
            }

            case InstructionPlan.BitScan:
            {
                // The interpreter's BitScanValue sets the flags and says whether the destination is written.
                int s = X86Cpu.OpSize(i, 0);
                var keep = il.DefineLabel();
                il.Emit(OpCodes.Ldarg_1);
                Const((int)i.Mnemonic);
                LoadOperand(i, 1, s);
                Const(s);
                il.Emit(OpCodes.Ldloca, value);
                il.Emit(OpCodes.Call, BitScanValue);
                il.Emit(OpCodes.Brfalse, keep);
                StoreRegister(i.Op0Register, value);
                il.MarkLabel(keep);
                break;
            }

            case InstructionPlan.Sse or InstructionPlan.SseChecked: EmitSse(i, k, check: plan == InstructionPlan.SseChecked); break;
            case InstructionPlan.Jcc:
            {
                var notTaken = il.DefineLabel();
                EmitCondition(i.ConditionCode);
                il.Emit(OpCodes.Brfalse, notTaken);
                ExitAfter(k, i.NearBranchTarget);
                il.MarkLabel(notTaken);
                ExitAfter(k, i.NextIP);
                return true;
            }

            case InstructionPlan.Jmp:
                if (i.Op0Kind is OpKind.NearBranch16 or OpKind.NearBranch32 or OpKind.NearBranch64)
                {
                    ExitAfter(k, i.NearBranchTarget);
                    return true;
                }

                LoadOperand(i, 0, 8);
                EmitIndirectExit(k);
                return true;
            case InstructionPlan.Call:
                if (i.Op0Kind == OpKind.NearBranch64)
                {
                    Const(i.NearBranchTarget);
                }
                else
                {
                    LoadOperand(i, 0, 8);
                }

                il.Emit(OpCodes.Stloc, fr);
                Const(i.NextIP);
                EmitPush64(value);
                il.Emit(OpCodes.Ldloc, fr);
                EmitIndirectExit(k);
                return true;
            case InstructionPlan.Ret:
                EmitPop64(fr, i.Code == Code.Retnq_imm16 ? i.Immediate16 : (ushort)0);
                il.Emit(OpCodes.Ldloc, fr);
                EmitIndirectExit(k);
                return true;
            case InstructionPlan.Push:
                LoadOperand(i, 0, 8);
                EmitPush64(value);
                break;
            case InstructionPlan.Pop:
                EmitPop64(value, 0);
                StoreRegister(i.Op0Register, value);
                break;
            default:
                EmitInterpret(i, k);
                break;
        }

        return false;
    }

    /// <summary>BT/BTS/BTR/BTC on a register, or on memory with an immediate bit offset; CF set after the store.</summary>
    private void EmitBitTest(in Instruction i, int k)
    {
        int s = X86Cpu.OpSize(i, 0);
        LoadOperand(i, 1, s);
        il.Emit(OpCodes.Conv_I4);
        Const((s * 8) - 1);
        il.Emit(OpCodes.And);
        il.Emit(OpCodes.Stloc, count);
        LoadOperand(i, 0, s);
        il.Emit(OpCodes.Stloc, fa);
        if (i.Mnemonic != Mnemonic.Bt)
        {
            Const(1UL);
            il.Emit(OpCodes.Ldloc, count);
            il.Emit(OpCodes.Shl);
            il.Emit(OpCodes.Stloc, fb);
            il.Emit(OpCodes.Ldloc, fa);
            il.Emit(OpCodes.Ldloc, fb);
            switch (i.Mnemonic)
            {
                case Mnemonic.Bts: il.Emit(OpCodes.Or); break;
                case Mnemonic.Btc: il.Emit(OpCodes.Xor); break;
                default: il.Emit(OpCodes.Not); il.Emit(OpCodes.And); break;
            }

            il.Emit(OpCodes.Stloc, value);
            StoreOperand(i, 0, s, value, k);
        }

        il.Emit(OpCodes.Ldarg_1);
        il.Emit(OpCodes.Ldloc, fa);
        il.Emit(OpCodes.Ldloc, count);
        il.Emit(OpCodes.Shr_Un);
        Const(1UL);
        il.Emit(OpCodes.And);
        Const(0UL);
        il.Emit(OpCodes.Cgt_Un);
        il.Emit(OpCodes.Call, SetCarry);
    }

    private void EmitInterpret(in Instruction i, int k)
    {
        // The interpreter expects RIP at the next instruction, as its own loop leaves it, and may read or write
        // any register.
        WriteBackRegisters(onPath: true);
        StoreRip(i.NextIP);
        var go = il.DefineLabel();
        il.Emit(OpCodes.Ldarg_1);
        LoadInstructionAddress(k);
        il.Emit(OpCodes.Call, Interpret);
        il.Emit(OpCodes.Brfalse, go);
        Const(k + 1);
        il.Emit(OpCodes.Ret);
        il.MarkLabel(go);
        ReloadRegisters();
    }

    /// <summary>Pushes a reference to the block's instruction <paramref name="k"/>, for the interpreter's executors.</summary>
    private void LoadInstructionAddress(int k)
    {
        il.Emit(OpCodes.Ldarg_0);
        il.Emit(OpCodes.Call, GetInstructions);
        Const(k);
        il.Emit(OpCodes.Ldelema, typeof(Instruction));
    }

    /// <summary>Ends the block at the target on the stack (a uint64), masked to the code size.</summary>
    private void EmitIndirectExit(int k)
    {
        il.Emit(OpCodes.Stloc, value);
        WriteBackRegisters(onPath: false);
        il.Emit(OpCodes.Ldloc, state);
        il.Emit(OpCodes.Ldloc, value);
        if (ipMask != ulong.MaxValue)
        {
            Const(ipMask);
            il.Emit(OpCodes.And);
        }

        il.Emit(OpCodes.Stfld, RipField);
        Const(k + 1);
        il.Emit(OpCodes.Ret);
    }

    /// <summary>PUSH in long mode: the value on the stack goes below RSP, and RSP moves only once the write succeeded.</summary>
    private void EmitPush64(LocalBuilder scratch)
    {
        il.Emit(OpCodes.Stloc, scratch);
        LoadRegister(Register.RSP);
        Const(8UL);
        il.Emit(OpCodes.Sub);
        il.Emit(OpCodes.Stloc, ea);
        var done = il.DefineLabel();
        var miss = il.DefineLabel();
        EmitTlbHit(write: true, 8, miss);
        StoreHost(8, scratch);
        il.Emit(OpCodes.Br, done);
        il.MarkLabel(miss);
        il.Emit(OpCodes.Ldarg_1);
        Const((int)SegmentName.Ss);
        il.Emit(OpCodes.Ldloc, ea);
        il.Emit(OpCodes.Ldloc, scratch);
        il.Emit(OpCodes.Call, Writes[3]);
        il.MarkLabel(done);
        StoreRegister(Register.RSP, ea);
    }

    private void EmitPop64(LocalBuilder into, ushort release)
    {
        LoadRegister(Register.RSP);
        il.Emit(OpCodes.Stloc, ea);
        ReadMemory(SegmentName.Ss, 8);
        il.Emit(OpCodes.Stloc, into);
        il.Emit(OpCodes.Ldloc, ea);
        Const(8UL + release);
        il.Emit(OpCodes.Add);
        il.Emit(OpCodes.Stloc, ea);
        StoreRegister(Register.RSP, ea);
    }

    private void EmitSignExtendAccumulator(in Instruction i)
    {
        switch (i.Mnemonic)
        {
            case Mnemonic.Cdqe:
                LoadRegister(Register.EAX);
                SignExtend(4);
                il.Emit(OpCodes.Stloc, value);
                StoreRegister(Register.RAX, value);
                break;
            case Mnemonic.Cqo:
                LoadRegister(Register.RAX);
                Const(63);
                il.Emit(OpCodes.Shr);
                il.Emit(OpCodes.Stloc, value);
                StoreRegister(Register.RDX, value);
                break;
            default:
                LoadRegister(Register.EAX);
                SignExtend(4);
                Const(63);
                il.Emit(OpCodes.Shr);
                il.Emit(OpCodes.Stloc, value);
                StoreRegister(Register.EDX, value);
                break;
        }
    }
}
