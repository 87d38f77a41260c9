using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Iced.Intel;
using static CocoLaunch.Cpu.CpuState;

namespace CocoLaunch.Cpu;

/// <summary>
/// The scalar double and single forms, shared by the interpreter (Sse.cs) and compiled blocks: the low lane of the
/// destination combined with the source's low 64 or 32 bits, the rest of the destination kept. Arithmetic is
/// .NET's (IEEE round to nearest, default NaN handling): MXCSR's rounding control and status flags are not
/// modelled, by either path.
/// </summary>
internal static class SseScalar
{
    /// <summary>The operation of a scalar form (xmm, xmm/m64 or xmm/m32), or null; <paramref name="size"/> is the source's width.</summary>
    public static Func<Vector128<ulong>, ulong, Vector128<ulong>>? Arithmetic(Mnemonic m, out int size)
    {
        size = m is Mnemonic.Addss or Mnemonic.Subss or Mnemonic.Mulss or Mnemonic.Divss or Mnemonic.Minss or Mnemonic.Maxss or Mnemonic.Sqrtss
            or Mnemonic.Cvtss2sd ? 4 : 8;
        return m switch
        {
            Mnemonic.Addsd => Addsd,
            Mnemonic.Subsd => Subsd,
            Mnemonic.Mulsd => Mulsd,
            Mnemonic.Divsd => Divsd,
            Mnemonic.Minsd => Minsd,
            Mnemonic.Maxsd => Maxsd,
            Mnemonic.Sqrtsd => Sqrtsd,
            Mnemonic.Addss => Addss,
            Mnemonic.Subss => Subss,
            Mnemonic.Mulss => Mulss,
            Mnemonic.Divss => Divss,
            Mnemonic.Minss => Minss,
            Mnemonic.Maxss => Maxss,
            Mnemonic.Sqrtss => Sqrtss,
            Mnemonic.Cvtsd2ss => Cvtsd2ss,
            Mnemonic.Cvtss2sd => Cvtss2sd,
            _ => null,
        };
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ulong> Addsd(Vector128<ulong> d, ulong b) => Double(d, Low(d) + AsDouble(b));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ulong> Subsd(Vector128<ulong> d, ulong b) => Double(d, Low(d) - AsDouble(b));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ulong> Mulsd(Vector128<ulong> d, ulong b) => Double(d, Low(d) * AsDouble(b));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ulong> Divsd(Vector128<ulong> d, ulong b) => Double(d, Low(d) / AsDouble(b));

    /// <summary>SSE returns the second operand unless a &lt; b (NaNs included); MAXSD likewise unless a &gt; b.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ulong> Minsd(Vector128<ulong> d, ulong b) => Double(d, Low(d) < AsDouble(b) ? Low(d) : AsDouble(b));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ulong> Maxsd(Vector128<ulong> d, ulong b) => Double(d, Low(d) > AsDouble(b) ? Low(d) : AsDouble(b));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ulong> Sqrtsd(Vector128<ulong> d, ulong b) => Double(d, Math.Sqrt(AsDouble(b)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ulong> Addss(Vector128<ulong> d, ulong b) => Single(d, LowSingle(d) + AsSingle(b));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ulong> Subss(Vector128<ulong> d, ulong b) => Single(d, LowSingle(d) - AsSingle(b));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ulong> Mulss(Vector128<ulong> d, ulong b) => Single(d, LowSingle(d) * AsSingle(b));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ulong> Divss(Vector128<ulong> d, ulong b) => Single(d, LowSingle(d) / AsSingle(b));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ulong> Minss(Vector128<ulong> d, ulong b) => Single(d, LowSingle(d) < AsSingle(b) ? LowSingle(d) : AsSingle(b));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ulong> Maxss(Vector128<ulong> d, ulong b) => Single(d, LowSingle(d) > AsSingle(b) ? LowSingle(d) : AsSingle(b));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ulong> Sqrtss(Vector128<ulong> d, ulong b) => Single(d, MathF.Sqrt(AsSingle(b)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ulong> Cvtsd2ss(Vector128<ulong> d, ulong b) => Single(d, (float)AsDouble(b));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ulong> Cvtss2sd(Vector128<ulong> d, ulong b) => Double(d, AsSingle(b));

    /// <summary>CVTSI2SD from a signed integer already sign-extended to 64 bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ulong> Cvtsi2sd(Vector128<ulong> d, ulong v) => Double(d, (long)v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ulong> Cvtsi2ss(Vector128<ulong> d, ulong v) => Single(d, (long)v);

    /// <summary>
    /// CVT(T)SD2SI and CVT(T)SS2SI: the source's low 64 or 32 bits to a <paramref name="size"/>-byte integer, truncated
    /// or rounded to nearest even; out of range or NaN gives the "integer indefinite" value, the most negative integer.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong ToInteger(ulong raw, bool single, bool truncate, int size)
    {
        double x = single ? AsSingle(raw) : AsDouble(raw);
        x = truncate ? Math.Truncate(x) : Math.Round(x, MidpointRounding.ToEven);
        double limit = size == 8 ? 9223372036854775808.0 : 2147483648.0;
        return double.IsNaN(x) || x >= limit || x < -limit ? X86Cpu.SignBit(size) : (ulong)(long)x & X86Cpu.Mask(size);
    }

    /// <summary>(U)COMISD and (U)COMISS: ZF PF CF as the comparison sets them, the other arithmetic flags clear.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong CompareFlags(ulong a, ulong b, bool single)
    {
        double x = single ? AsSingle(a) : AsDouble(a);
        double y = single ? AsSingle(b) : AsDouble(b);
        return double.IsNaN(x) || double.IsNaN(y) ? FlagZf | FlagPf | FlagCf : x < y ? FlagCf : x == y ? FlagZf : 0;
    }

    private static double Low(Vector128<ulong> d) => BitConverter.UInt64BitsToDouble(d.GetElement(0));

    private static float LowSingle(Vector128<ulong> d) => BitConverter.UInt32BitsToSingle((uint)d.GetElement(0));

    private static double AsDouble(ulong raw) => BitConverter.UInt64BitsToDouble(raw);

    private static float AsSingle(ulong raw) => BitConverter.UInt32BitsToSingle((uint)raw);

    private static Vector128<ulong> Double(Vector128<ulong> d, double r) => d.WithElement(0, BitConverter.DoubleToUInt64Bits(r));

    private static Vector128<ulong> Single(Vector128<ulong> d, float r) => d.WithElement(0, (d.GetElement(0) & ~0xFFFF_FFFFUL) | BitConverter.SingleToUInt32Bits(r));
}
