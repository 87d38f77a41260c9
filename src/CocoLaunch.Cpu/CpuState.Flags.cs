using System.Numerics;
using System.Runtime.CompilerServices;

namespace CocoLaunch.Cpu;

/// <summary>The ALU operation whose arithmetic flags are still pending (cpu-emulator.md §1.5, lazy flags).</summary>
internal enum FlagOp : byte
{
    None,
    Add,
    Sub,
    Logic,
    Inc,
    Dec,

    /// <summary>SHL/SAL, SHR and SAR by a non-zero count: PendingA holds the value shifted, PendingB the count.</summary>
    Shl,
    Shr,
    Sar,

    /// <summary>MUL and IMUL: PendingB is 1 when the product overflowed the low half (CF = OF = 1).</summary>
    Mul,
}

/// <summary>
/// RFLAGS with lazy arithmetic flags: an ADD, SUB, CMP, logic op, INC or DEC records its operands, result and
/// width, and CF PF AF ZF SF OF are computed only when something reads RFLAGS. Most results are overwritten
/// by the next flag-producing instruction before anything reads them, so most are never computed.
/// </summary>
public sealed partial class CpuState
{
    private ulong rflags = 2;

    internal FlagOp PendingOp;
    internal int PendingSize;
    internal ulong PendingA;
    internal ulong PendingB;

    /// <summary>The result; for INC and DEC, <see cref="PendingB"/> holds the CF they leave alone.</summary>
    internal ulong PendingResult;

    /// <summary>RFLAGS; bit 1 always reads 1.</summary>
    public ulong Rflags
    {
        get
        {
            if (PendingOp != FlagOp.None)
            {
                Materialize();
            }

            return rflags;
        }

        set
        {
            PendingOp = FlagOp.None;
            rflags = value;
        }
    }

    /// <summary>RFLAGS without computing pending arithmetic flags: the system bits (IF, DF, AC, IOPL...) are always current.</summary>
    internal ulong SystemFlags => rflags & ~ArithmeticFlags;

    /// <summary>Records a flag-producing operation. Operands and result are already masked to <paramref name="size"/> bytes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void SetPending(FlagOp op, ulong a, ulong b, ulong result, int size)
    {
        PendingOp = op;
        PendingA = a;
        PendingB = b;
        PendingResult = result;
        PendingSize = size;
    }

    /// <summary>CF alone, without computing the other flags (ADC, SBB, INC and DEC need only it).</summary>
    internal bool CarryFlag => PendingOp switch
    {
        FlagOp.None => (rflags & FlagCf) != 0,
        FlagOp.Add => AddCarry(PendingA, PendingB, PendingResult, PendingSize),
        FlagOp.Sub => SubBorrow(PendingA, PendingB, PendingResult, PendingSize),
        FlagOp.Logic => false,
        FlagOp.Shl or FlagOp.Shr or FlagOp.Sar => ShiftCarry(PendingOp, PendingA, (int)PendingB, PendingSize),
        _ => PendingB != 0,
    };

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Materialize()
    {
        ulong a = PendingA, b = PendingB, r = PendingResult;
        int size = PendingSize;
        ulong sign = 1UL << ((size * 8) - 1);
        ulong f = Szp(r, size);
        switch (PendingOp)
        {
            case FlagOp.Add:
                f |= (AddCarry(a, b, r, size) ? FlagCf : 0) | ((a ^ b ^ r) & FlagAf) | (((a ^ r) & (b ^ r) & sign) != 0 ? FlagOf : 0);
                break;
            case FlagOp.Sub:
                f |= (SubBorrow(a, b, r, size) ? FlagCf : 0) | ((a ^ b ^ r) & FlagAf) | (((a ^ b) & (a ^ r) & sign) != 0 ? FlagOf : 0);
                break;
            case FlagOp.Inc:
                // a + 1 = r: AF when the low nibble wrapped, OF when the sign flipped from 0 to 1.
                f |= b | ((a ^ 1 ^ r) & FlagAf) | ((~a & r & sign) != 0 ? FlagOf : 0);
                break;
            case FlagOp.Dec:
                f |= b | ((a ^ 1 ^ r) & FlagAf) | ((a & ~r & sign) != 0 ? FlagOf : 0);
                break;
            case FlagOp.Shl or FlagOp.Shr or FlagOp.Sar:
            {
                // AF is undefined after a shift; the interpreter has always cleared it.
                bool cf = ShiftCarry(PendingOp, a, (int)b, size);
                bool of = PendingOp switch
                {
                    FlagOp.Shl => ((r & sign) != 0) ^ cf,
                    FlagOp.Shr => (a & sign) != 0,
                    _ => false,
                };
                f |= (cf ? FlagCf : 0) | (of ? FlagOf : 0);
                break;
            }

            case FlagOp.Mul:
                // SF, ZF, AF and PF are undefined; AMD leaves them as the low half would set them.
                f |= b != 0 ? FlagCf | FlagOf : 0;
                break;
        }

        rflags = (rflags & ~ArithmeticFlags) | f;
        PendingOp = FlagOp.None;
    }

    /// <summary>The last bit a shift of <paramref name="v"/> by a masked, non-zero <paramref name="count"/> moves out.</summary>
    internal static bool ShiftCarry(FlagOp op, ulong v, int count, int size)
    {
        int bits = size * 8;
        return op switch
        {
            FlagOp.Shl => count <= bits && ((v >> (bits - count)) & 1) != 0,
            FlagOp.Shr => count <= bits && ((v >> (count - 1)) & 1) != 0,
            _ => ((ulong)((long)X86Cpu.SignExtend(v, size) >> (Math.Min(count, bits) - 1)) & 1) != 0,
        };
    }

    /// <summary>
    /// The carry out of a + b + carry-in = r at this width. The carry-in of an ADC is not stored: it is
    /// (r − a − b) modulo the width, 0 or 1. The same holds for SUB/SBB's borrow with (a − b − r).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool AddCarry(ulong a, ulong b, ulong r, int size)
    {
        ulong carryIn = (r - a - b) & Mask(size);
        return size == 8 ? r < a || (carryIn != 0 && r == a) : a + b + carryIn > Mask(size);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool SubBorrow(ulong a, ulong b, ulong r, int size)
    {
        ulong borrowIn = (a - b - r) & Mask(size);
        return a < b || (borrowIn != 0 && a == b);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong Mask(int size) => size == 8 ? ulong.MaxValue : (1UL << (size * 8)) - 1;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong Szp(ulong result, int size)
    {
        ulong f = (BitOperations.PopCount(result & 0xFF) & 1) == 0 ? FlagPf : 0;
        if ((result & Mask(size)) == 0)
        {
            f |= FlagZf;
        }

        if ((result & (1UL << ((size * 8) - 1))) != 0)
        {
            f |= FlagSf;
        }

        return f;
    }
}
