namespace CocoLaunch.Cpu.Tests;

/// <summary>
/// DIV/IDIV inputs: mostly a dividend built as quotient × divisor + remainder so the quotient fits, plus division
/// by zero and quotient overflow (both #DE), which random operands would give almost always.
/// </summary>
internal static class VectorDivision
{
    public static void Shape(bool signed, VectorOperand divisorOperand, VectorCase c)
    {
        int w = divisorOperand.Bits;
        UInt128 wMask = ((UInt128)1 << w) - 1;
        int kind = c.Rng.Next(100);
        UInt128 divisor;
        UInt128 dividend;
        if (kind < 12)
        {
            divisor = 0;
            dividend = Draw(2 * w, c);
        }
        else if (kind < 24)
        {
            (divisor, dividend) = Overflow(signed, w, c);
        }
        else
        {
            (divisor, dividend) = Fitting(signed, w, c);
        }

        c.Set(divisorOperand, (ulong)(divisor & wMask));
        if (w == 8)
        {
            c.SetGpr(0, (c.Input.Gprs[0] & ~0xFFFFUL) | (ulong)(dividend & 0xFFFF));
            return;
        }

        ulong keep = w == 64 ? 0 : ~VectorCase.Mask(w);
        c.SetGpr(0, (c.Input.Gprs[0] & keep) | (ulong)(dividend & wMask));
        c.SetGpr(2, (c.Input.Gprs[2] & keep) | (ulong)((dividend >> w) & wMask));
    }

    private static UInt128 Draw(int bits, VectorCase c)
    {
        UInt128 value = ((UInt128)c.Random64() << 64) | c.Random64();
        return bits == 128 ? value : value & (((UInt128)1 << bits) - 1);
    }

    private static (UInt128 Divisor, UInt128 Dividend) Fitting(bool signed, int w, VectorCase c)
    {
        UInt128 wMask = ((UInt128)1 << w) - 1;
        UInt128 twoMask = w == 64 ? UInt128.MaxValue : ((UInt128)1 << (2 * w)) - 1;
        if (!signed)
        {
            UInt128 d = c.Value(w) & wMask;
            d = d == 0 ? 1 : d;
            UInt128 q = c.Value(w) & wMask;
            UInt128 r = Draw(w, c) % d;
            return (d, (q * d) + r);
        }

        Int128 sd = SignExtend(c.Value(w), w);
        sd = sd == 0 ? -1 : sd;
        Int128 sq = SignExtend(c.Value(w), w);
        Int128 product = sq * sd;
        Int128 magnitude = (Int128)(Draw(w, c) % (UInt128)Int128.Abs(sd));
        Int128 remainder = product < 0 || (product == 0 && c.Rng.Next(2) == 0) ? -magnitude : magnitude;
        return ((UInt128)sd & wMask, (UInt128)(product + remainder) & twoMask);
    }

    private static (UInt128 Divisor, UInt128 Dividend) Overflow(bool signed, int w, VectorCase c)
    {
        UInt128 wMask = ((UInt128)1 << w) - 1;
        UInt128 twoMask = w == 64 ? UInt128.MaxValue : ((UInt128)1 << (2 * w)) - 1;
        if (!signed)
        {
            UInt128 d = (c.Value(w) & wMask) | 1;
            UInt128 high = d + (Draw(w, c) % (wMask - d + 1));
            return (d, (high << w) | Draw(w, c));
        }

        Int128 min = -((Int128)1 << (w - 1));
        return c.Rng.Next(3) switch
        {
            0 => ((UInt128)(Int128)(-1) & wMask, (UInt128)min & twoMask),
            1 => (1, (UInt128)(-min)),
            _ => ((UInt128)(Int128)(c.Rng.Next(2) == 0 ? 2 : -2) & wMask, (UInt128)((-min * 2) + 2) & twoMask),
        };
    }

    private static Int128 SignExtend(ulong value, int w) => w == 64 ? (long)value : ((Int128)(value & VectorCase.Mask(w)) ^ ((Int128)1 << (w - 1))) - ((Int128)1 << (w - 1));
}
