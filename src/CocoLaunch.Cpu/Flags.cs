using System.Numerics;
using System.Runtime.CompilerServices;
using Iced.Intel;
using static CocoLaunch.Cpu.CpuState;

namespace CocoLaunch.Cpu;

/// <summary>Arithmetic flag results, computed eagerly from the operands, the result and the width.</summary>
public sealed partial class X86Cpu
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong Mask(int size) => size == 8 ? ulong.MaxValue : (1UL << (size * 8)) - 1;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong SignBit(int size) => 1UL << ((size * 8) - 1);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong SzpFlags(ulong result, int size)
    {
        ulong f = (BitOperations.PopCount(result & 0xFF) & 1) == 0 ? FlagPf : 0;
        if ((result & Mask(size)) == 0)
        {
            f |= FlagZf;
        }

        if ((result & SignBit(size)) != 0)
        {
            f |= FlagSf;
        }

        return f;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void SetArith(ulong flags) => State.Rflags = (State.Rflags & ~ArithmeticFlags) | flags;

    // ADD, SUB and the logic ops leave their flags pending in the state (CpuState.Flags.cs): most are
    // overwritten before anything reads them.
    private ulong Add(ulong a, ulong b, ulong carryIn, int size)
    {
        ulong m = Mask(size);
        a &= m;
        b &= m;
        ulong r = (a + b + carryIn) & m;
        State.SetPending(FlagOp.Add, a, b, r, size);
        return r;
    }

    private ulong Sub(ulong a, ulong b, ulong borrowIn, int size)
    {
        ulong m = Mask(size);
        a &= m;
        b &= m;
        ulong r = (a - b - borrowIn) & m;
        State.SetPending(FlagOp.Sub, a, b, r, size);
        return r;
    }

    private ulong Logic(ulong r, int size)
    {
        r &= Mask(size);
        State.SetPending(FlagOp.Logic, 0, 0, r, size);
        return r;
    }

    private bool Condition(ConditionCode cc)
    {
        ulong f = State.Rflags;
        bool cf = (f & FlagCf) != 0, zf = (f & FlagZf) != 0, sf = (f & FlagSf) != 0, of = (f & FlagOf) != 0, pf = (f & FlagPf) != 0;
        return cc switch
        {
            ConditionCode.o => of,
            ConditionCode.no => !of,
            ConditionCode.b => cf,
            ConditionCode.ae => !cf,
            ConditionCode.e => zf,
            ConditionCode.ne => !zf,
            ConditionCode.be => cf || zf,
            ConditionCode.a => !cf && !zf,
            ConditionCode.s => sf,
            ConditionCode.ns => !sf,
            ConditionCode.p => pf,
            ConditionCode.np => !pf,
            ConditionCode.l => sf != of,
            ConditionCode.ge => sf == of,
            ConditionCode.le => zf || sf != of,
            ConditionCode.g => !zf && sf == of,
            _ => true,
        };
    }
}
