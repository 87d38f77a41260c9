using System.Reflection.Emit;
using Iced.Intel;

namespace CocoLaunch.Cpu.Jit;

/// <summary>ALU instructions, shifts and flag conditions: fa and fb hold the operands, fr the result.</summary>
internal sealed partial class BlockCompiler
{
    private void EmitAlu(in Instruction i, int k, bool flagsLive)
    {
        int s = X86Cpu.OpSize(i, 0);
        var m = i.Mnemonic;
        LoadOperand(i, 0, s);
        il.Emit(OpCodes.Stloc, fa);
        LoadOperand(i, 1, s);
        Truncate(s);
        il.Emit(OpCodes.Stloc, fb);
        il.Emit(OpCodes.Ldloc, fa);
        il.Emit(OpCodes.Ldloc, fb);
        switch (m)
        {
            case Mnemonic.Add: il.Emit(OpCodes.Add); break;
            case Mnemonic.Adc: il.Emit(OpCodes.Add); LoadCarry(); il.Emit(OpCodes.Add); break;
            case Mnemonic.Sub or Mnemonic.Cmp: il.Emit(OpCodes.Sub); break;
            case Mnemonic.Sbb: il.Emit(OpCodes.Sub); LoadCarry(); il.Emit(OpCodes.Sub); break;
            case Mnemonic.And or Mnemonic.Test: il.Emit(OpCodes.And); break;
            case Mnemonic.Or: il.Emit(OpCodes.Or); break;
            default: il.Emit(OpCodes.Xor); break;
        }

        Truncate(s);
        il.Emit(OpCodes.Stloc, fr);
        if (m is not (Mnemonic.Cmp or Mnemonic.Test))
        {
            StoreOperand(i, 0, s, fr, k);
        }

        var op = m switch
        {
            Mnemonic.Add or Mnemonic.Adc => FlagOp.Add,
            Mnemonic.Sub or Mnemonic.Sbb or Mnemonic.Cmp => FlagOp.Sub,
            _ => FlagOp.Logic,
        };
        if (flagsLive)
        {
            StorePending(op, op == FlagOp.Logic ? null : fa, op == FlagOp.Logic ? null : fb, fr, s);
        }

        producer = op;
        producerSize = s;
        producerPlain = m is not (Mnemonic.Adc or Mnemonic.Sbb);
    }

    private void EmitUnary(InstructionPlan plan, in Instruction i, int k, bool flagsLive)
    {
        int s = X86Cpu.OpSize(i, 0);
        if (plan == InstructionPlan.Not)
        {
            // NOT writes no flags: fa, fb and fr still belong to the last flag producer.
            LoadOperand(i, 0, s);
            il.Emit(OpCodes.Not);
            Truncate(s);
            il.Emit(OpCodes.Stloc, value);
            StoreOperand(i, 0, s, value, k);
            return;
        }

        LoadOperand(i, 0, s);
        il.Emit(OpCodes.Stloc, fa);
        switch (plan)
        {
            case InstructionPlan.IncDec:
            {
                bool inc = i.Mnemonic == Mnemonic.Inc;
                il.Emit(OpCodes.Ldloc, fa);
                Const(1UL);
                il.Emit(inc ? OpCodes.Add : OpCodes.Sub);
                Truncate(s);
                il.Emit(OpCodes.Stloc, fr);
                StoreOperand(i, 0, s, fr, k);
                if (flagsLive)
                {
                    LoadCarry(); // CF is kept: 0 or 1, which is FlagCf
                    il.Emit(OpCodes.Stloc, fb);
                    StorePending(inc ? FlagOp.Inc : FlagOp.Dec, fa, fb, fr, s);
                }

                producer = inc ? FlagOp.Inc : FlagOp.Dec;
                producerSize = s;
                producerPlain = false;
                break;
            }

            case InstructionPlan.Neg:
                // NEG x is 0 - x with SUB's flags.
                il.Emit(OpCodes.Ldloc, fa);
                il.Emit(OpCodes.Stloc, fb);
                Const(0UL);
                il.Emit(OpCodes.Stloc, fa);
                il.Emit(OpCodes.Ldloc, fa);
                il.Emit(OpCodes.Ldloc, fb);
                il.Emit(OpCodes.Sub);
                Truncate(s);
                il.Emit(OpCodes.Stloc, fr);
                StoreOperand(i, 0, s, fr, k);
                if (flagsLive)
                {
                    StorePending(FlagOp.Sub, fa, fb, fr, s);
                }

                producer = FlagOp.Sub;
                producerSize = s;
                producerPlain = true;
                break;
        }
    }

    /// <summary>
    /// SHL/SHR/SAR/ROL/ROR, the result inline. With <paramref name="flagsLive"/>, SHL/SHR/SAR leave their flags
    /// pending and ROL/ROR set CF and OF, after the store (a faulting store leaves RFLAGS as it was). RCL/RCR,
    /// which rotate through CF, call the interpreter's <see cref="X86Cpu.ShiftValue"/> for result and RFLAGS.
    /// </summary>
    private void EmitShift(in Instruction i, int k, bool flagsLive)
    {
        int s = X86Cpu.OpSize(i, 0);
        int bits = s * 8;
        int countMask = s == 8 ? 0x3F : 0x1F;
        var done = il.DefineLabel();
        var zero = il.DefineLabel();
        if (i.Op1Kind == OpKind.Immediate8)
        {
            Const(i.Immediate8 & countMask);
        }
        else
        {
            LoadRegister(Register.CL);
            il.Emit(OpCodes.Conv_I4);
            Const(countMask);
            il.Emit(OpCodes.And);
        }

        il.Emit(OpCodes.Stloc, count);
        il.Emit(OpCodes.Ldloc, count);
        il.Emit(OpCodes.Brfalse, zero);
        LoadOperand(i, 0, s);
        il.Emit(OpCodes.Stloc, fa);
        var lazy = X86Cpu.LazyShift(i.Mnemonic);
        if (i.Mnemonic is Mnemonic.Rcl or Mnemonic.Rcr)
        {
            // Through CF, width + 1 bits: the interpreter's arithmetic, which reads and writes RFLAGS.
            flagsLive = true;
            il.Emit(OpCodes.Ldarg_1);
            Const((int)i.Mnemonic);
            il.Emit(OpCodes.Ldloc, fa);
            il.Emit(OpCodes.Ldloc, count);
            Const(s);
            il.Emit(OpCodes.Ldloca, flags);
            il.Emit(OpCodes.Call, ShiftValue);
            il.Emit(OpCodes.Stloc, value);
            StoreOperand(i, 0, s, value, k);
            il.Emit(OpCodes.Ldloc, state);
            il.Emit(OpCodes.Ldloc, flags);
            il.Emit(OpCodes.Call, SetRflags);
            il.Emit(OpCodes.Br, done);
            EmitZeroCount(i, zero, done, s);
            return;
        }

        bool rotate = i.Mnemonic is Mnemonic.Rol or Mnemonic.Ror;
        if (rotate)
        {
            il.Emit(OpCodes.Ldloc, count);
            Const(bits);
            il.Emit(OpCodes.Rem_Un);
            il.Emit(OpCodes.Stloc, count);
        }

        switch (i.Mnemonic)
        {
            case Mnemonic.Shl or Mnemonic.Sal:
                il.Emit(OpCodes.Ldloc, fa);
                il.Emit(OpCodes.Ldloc, count);
                il.Emit(OpCodes.Shl);
                break;
            case Mnemonic.Shr:
                il.Emit(OpCodes.Ldloc, fa);
                il.Emit(OpCodes.Ldloc, count);
                il.Emit(OpCodes.Shr_Un);
                break;
            case Mnemonic.Sar:
                il.Emit(OpCodes.Ldloc, fa);
                SignExtend(s);
                il.Emit(OpCodes.Ldloc, count);
                il.Emit(OpCodes.Shr);
                break;
            default:
                // ROL: (v << c) | (v >> (bits - c)); ROR the mirror. With c = 0 the second shift is by the width,
                // masked to 63 so that 64-bit values are shifted by 0 (v | v = v) and narrower ones give 0.
                bool left = i.Mnemonic == Mnemonic.Rol;
                il.Emit(OpCodes.Ldloc, fa);
                il.Emit(OpCodes.Ldloc, count);
                il.Emit(left ? OpCodes.Shl : OpCodes.Shr_Un);
                il.Emit(OpCodes.Ldloc, fa);
                Const(bits);
                il.Emit(OpCodes.Ldloc, count);
                il.Emit(OpCodes.Sub);
                Const(63);
                il.Emit(OpCodes.And);
                il.Emit(left ? OpCodes.Shr_Un : OpCodes.Shl);
                il.Emit(OpCodes.Or);
                break;
        }

        Truncate(s);
        il.Emit(OpCodes.Stloc, value);
        StoreOperand(i, 0, s, value, k);
        if (flagsLive && lazy is { } op)
        {
            // After the store, so a faulting one leaves RFLAGS as it was.
            il.Emit(OpCodes.Ldloc, count);
            il.Emit(OpCodes.Conv_U8);
            il.Emit(OpCodes.Stloc, fb);
            StorePending(op, fa, fb, value, s);
        }
        else if (flagsLive)
        {
            EmitRotateFlags(i.Mnemonic == Mnemonic.Rol, bits);
        }

        il.Emit(OpCodes.Br, done);
        EmitZeroCount(i, zero, done, s);
    }

    /// <summary>
    /// ROL/ROR change CF and OF only, from the rotated <see cref="value"/>, as the interpreter's ShiftValue: ROL's CF
    /// is the low bit and OF its XOR with the top bit; ROR's CF is the top bit and OF its XOR with the next one.
    /// </summary>
    private void EmitRotateFlags(bool left, int bits)
    {
        il.Emit(OpCodes.Ldloc, state);
        il.Emit(OpCodes.Ldloc, state);
        il.Emit(OpCodes.Call, GetRflags);
        Const(~(CpuState.FlagCf | CpuState.FlagOf));
        il.Emit(OpCodes.And);
        il.Emit(OpCodes.Ldloc, value);
        Const(left ? 0 : bits - 1);
        il.Emit(OpCodes.Shr_Un);
        Const(1UL);
        il.Emit(OpCodes.And);
        il.Emit(OpCodes.Stloc, fb); // CF
        il.Emit(OpCodes.Ldloc, fb);
        il.Emit(OpCodes.Or);
        il.Emit(OpCodes.Ldloc, value);
        Const(bits - 1);
        il.Emit(OpCodes.Shr_Un);
        if (left)
        {
            il.Emit(OpCodes.Ldloc, fb);
        }
        else
        {
            il.Emit(OpCodes.Ldloc, value);
            Const(bits - 2);
            il.Emit(OpCodes.Shr_Un);
        }

        il.Emit(OpCodes.Xor);
        Const(1UL);
        il.Emit(OpCodes.And);
        Const(11);
        il.Emit(OpCodes.Shl);
        il.Emit(OpCodes.Or);
        il.Emit(OpCodes.Call, SetRflags);
    }

    private void EmitZeroCount(in Instruction i, System.Reflection.Emit.Label zero, System.Reflection.Emit.Label done, int s)
    {
        il.MarkLabel(zero);
        if (s == 4 && i.Op0Kind == OpKind.Register)
        {
            // A count of 0 changes nothing, but a 32-bit register is still written: its upper half clears.
            LoadRegister(i.Op0Register);
            il.Emit(OpCodes.Stloc, value);
            StoreRegister(i.Op0Register, value);
        }

        il.MarkLabel(done);
    }

    /// <summary>Pushes the condition as an int 0/1: from fa/fb/fr when this block produced the flags, else from RFLAGS.</summary>
    private void EmitCondition(ConditionCode cc)
    {
        if (!TryInlineCondition(cc))
        {
            il.Emit(OpCodes.Ldarg_1);
            Const((int)cc);
            il.Emit(OpCodes.Call, Condition);
        }
    }

    private bool TryInlineCondition(ConditionCode cc)
    {
        if (producer == FlagOp.None)
        {
            return false;
        }

        switch (cc)
        {
            case ConditionCode.e or ConditionCode.ne:
                il.Emit(OpCodes.Ldloc, fr);
                Const(0UL);
                il.Emit(OpCodes.Ceq);
                if (cc == ConditionCode.ne)
                {
                    Not();
                }

                return true;
            case ConditionCode.s or ConditionCode.ns:
                Sign();
                if (cc == ConditionCode.ns)
                {
                    Not();
                }

                return true;
        }

        if (producer == FlagOp.Logic)
        {
            // CF = OF = 0: SF != OF is SF, and the unsigned conditions depend on ZF alone.
            switch (cc)
            {
                case ConditionCode.l: Sign(); return true;
                case ConditionCode.ge: Sign(); Not(); return true;
                case ConditionCode.le or ConditionCode.g:
                    il.Emit(OpCodes.Ldloc, fr);
                    Const(0UL);
                    il.Emit(OpCodes.Ceq);
                    Sign();
                    il.Emit(OpCodes.Or);
                    if (cc == ConditionCode.g)
                    {
                        Not();
                    }

                    return true;
                case ConditionCode.b or ConditionCode.o: Const(0); return true;
                case ConditionCode.ae or ConditionCode.no: Const(1); return true;
                case ConditionCode.be: return TryInlineCondition(ConditionCode.e);
                case ConditionCode.a: return TryInlineCondition(ConditionCode.ne);
                default: return false;
            }
        }

        if (producer != FlagOp.Sub || !producerPlain)
        {
            return false;
        }

        // a - b: the unsigned and signed orders of the operands.
        int shift = 64 - (producerSize * 8);
        switch (cc)
        {
            case ConditionCode.b: Compare(OpCodes.Clt_Un, 0, false); return true;
            case ConditionCode.ae: Compare(OpCodes.Clt_Un, 0, true); return true;
            case ConditionCode.a: Compare(OpCodes.Cgt_Un, 0, false); return true;
            case ConditionCode.be: Compare(OpCodes.Cgt_Un, 0, true); return true;
            case ConditionCode.l: Compare(OpCodes.Clt, shift, false); return true;
            case ConditionCode.ge: Compare(OpCodes.Clt, shift, true); return true;
            case ConditionCode.g: Compare(OpCodes.Cgt, shift, false); return true;
            case ConditionCode.le: Compare(OpCodes.Cgt, shift, true); return true;
            default: return false;
        }
    }

    /// <summary>Compares fa with fb; a shift moves the operands' sign bit to bit 63 for a signed compare.</summary>
    private void Compare(OpCode compare, int shift, bool negate)
    {
        il.Emit(OpCodes.Ldloc, fa);
        if (shift != 0)
        {
            Const(shift);
            il.Emit(OpCodes.Shl);
        }

        il.Emit(OpCodes.Ldloc, fb);
        if (shift != 0)
        {
            Const(shift);
            il.Emit(OpCodes.Shl);
        }

        il.Emit(compare);
        if (negate)
        {
            Not();
        }
    }

    private void Sign()
    {
        il.Emit(OpCodes.Ldloc, fr);
        Const((producerSize * 8) - 1);
        il.Emit(OpCodes.Shr_Un);
        il.Emit(OpCodes.Conv_I4);
        Const(1);
        il.Emit(OpCodes.And);
    }
}
