namespace CocoLaunch.Cpu;

/// <summary>
/// The x87 double-extended format (SDM vol. 1 §4.2.2, §8.2): sign and 15-bit exponent (bias 16383) in
/// <see cref="SignExponent"/>, a 64-bit significand with an explicit integer bit. Arithmetic rounds once, to the
/// precision control's 24, 53 or 64 bits under the rounding control, over the extended exponent range, as the FPU
/// does; loads from integers and binary32/64 are exact.
/// </summary>
public readonly record struct Float80(ulong Significand, ushort SignExponent)
{
    public const int Bias = 16383, MaxExponent = 0x7FFF;

    /// <summary>The real indefinite (a QNaN) the FPU returns for a masked invalid operation.</summary>
    public static readonly Float80 Indefinite = new(0xC000_0000_0000_0000, 0xFFFF);

    public static readonly Float80 Zero = new(0, 0), One = new(1UL << 63, Bias);

    public bool Sign => (SignExponent & 0x8000) != 0;

    public int Exponent => SignExponent & MaxExponent;

    public bool IsZero => Exponent == 0 && Significand == 0;

    public bool IsNaN => Exponent == MaxExponent && (Significand << 1) != 0;

    public bool IsInfinity => Exponent == MaxExponent && (Significand << 1) == 0;

    public Float80 Negate() => this with { SignExponent = (ushort)(SignExponent ^ 0x8000) };

    public Float80 Abs() => this with { SignExponent = (ushort)(SignExponent & MaxExponent) };

    private static Float80 Make(bool sign, int exponent, ulong significand) => new(significand, (ushort)((sign ? 0x8000 : 0) | exponent));

    private static Float80 Infinity(bool sign) => Make(sign, MaxExponent, 1UL << 63);

    private Float80 Quiet() => this with { Significand = Significand | (1UL << 62) };

    /// <summary>Sign, unbiased exponent of the integer bit, and the significand shifted so bit 63 is set (finite, non-zero only).</summary>
    private (bool Sign, int Exponent, ulong Significand) Unpack()
    {
        int e = Exponent == 0 ? 1 - Bias : Exponent - Bias;
        int shift = System.Numerics.BitOperations.LeadingZeroCount(Significand);
        return (Sign, e - shift, Significand << shift);
    }

    public static Float80 FromInt64(long value)
    {
        if (value == 0)
        {
            return Zero;
        }

        ulong magnitude = value < 0 ? (ulong)-value : (ulong)value;
        int shift = System.Numerics.BitOperations.LeadingZeroCount(magnitude);
        return Make(value < 0, Bias + 63 - shift, magnitude << shift);
    }

    public static Float80 FromDouble(ulong bits) => FromBinary(bits, 52, 11);

    public static Float80 FromSingle(uint bits) => FromBinary(bits, 23, 8);

    private static Float80 FromBinary(ulong bits, int fraction, int exponentBits)
    {
        bool sign = (bits >> (fraction + exponentBits)) != 0;
        int max = (1 << exponentBits) - 1, bias = (max >> 1);
        int e = (int)(bits >> fraction) & max;
        ulong f = bits & ((1UL << fraction) - 1);
        if (e == max)
        {
            return f == 0 ? Infinity(sign) : Make(sign, MaxExponent, (1UL << 63) | (1UL << 62) | (f << (63 - fraction)));
        }

        if (e == 0)
        {
            if (f == 0)
            {
                return Make(sign, 0, 0);
            }

            int shift = System.Numerics.BitOperations.LeadingZeroCount(f);
            return Make(sign, Bias - bias + 1 + (63 - fraction) - shift, f << shift);
        }

        return Make(sign, e - bias + Bias, (1UL << 63) | (f << (63 - fraction)));
    }

    /// <summary>
    /// Rounds <paramref name="mantissa"/> × 2^(<paramref name="exponent"/> − 127) (the value with its top bit at
    /// bit 127 is 2^exponent) to <paramref name="precision"/> bits under rounding control <paramref name="rc"/>.
    /// </summary>
    internal static Float80 Round(bool sign, int exponent, UInt128 mantissa, bool sticky, int precision, int rc)
    {
        if (mantissa == 0)
        {
            return Make(sign, 0, 0);
        }

        int lead = 127 - (int)UInt128.LeadingZeroCount(mantissa);
        mantissa <<= 127 - lead;
        exponent -= 127 - lead;
        int biased = exponent + Bias;
        int drop = 128 - precision;
        if (biased <= 0)
        {
            // Below the normal range: denormalise first, so the rounding is at the same bit a denormal keeps.
            int extra = 1 - biased;
            if (extra >= 128)
            {
                sticky |= mantissa != 0;
                mantissa = 0;
            }
            else
            {
                sticky |= (mantissa & ((UInt128.One << extra) - 1)) != 0;
                mantissa >>= extra;
            }

            biased = 0;
        }

        UInt128 kept = mantissa >> drop;
        if (RoundsUp(sign, kept, mantissa & ((UInt128.One << drop) - 1), drop, sticky, rc))
        {
            kept++;
            if (kept >> precision != 0)
            {
                kept >>= 1;
                biased++;
            }
            else if (biased == 0 && (kept >> (precision - 1)) != 0)
            {
                biased = 1; // rounded up into the smallest normal
            }
        }

        if (biased >= MaxExponent)
        {
            return OverflowsToInfinity(sign, rc) ? Infinity(sign) : Make(sign, MaxExponent - 1, precision == 64 ? ulong.MaxValue : ~0UL << (64 - precision));
        }

        return Make(sign, biased, (ulong)(kept << (64 - precision)));
    }

    /// <summary>
    /// Whether dropping <paramref name="rest"/> (the low <paramref name="dropped"/> bits, with a sticky bit below them)
    /// from a magnitude whose kept part is <paramref name="kept"/> rounds it up: to nearest even, down, up or toward
    /// zero (RC 0-3) for a value of sign <paramref name="sign"/>.
    /// </summary>
    private static bool RoundsUp(bool sign, UInt128 kept, UInt128 rest, int dropped, bool sticky, int rc)
    {
        UInt128 half = UInt128.One << (dropped - 1);
        bool inexact = rest != 0 || sticky;
        return rc switch
        {
            0 => rest > half || (rest == half && (sticky || (kept & 1) != 0)),
            1 => sign && inexact,
            2 => !sign && inexact,
            _ => false,
        };
    }

    /// <summary>An overflow gives infinity when rounding to nearest or toward it, else the largest finite value.</summary>
    private static bool OverflowsToInfinity(bool sign, int rc) => rc == 0 || (rc == 1 && sign) || (rc == 2 && !sign);

    public static Float80 Add(Float80 a, Float80 b, int precision, int rc)
    {
        if (a.IsNaN || b.IsNaN)
        {
            return PropagateNaN(a, b);
        }

        if (a.IsInfinity || b.IsInfinity)
        {
            return a.IsInfinity && b.IsInfinity && a.Sign != b.Sign ? Indefinite : a.IsInfinity ? a : b;
        }

        if (a.IsZero || b.IsZero)
        {
            return a.IsZero && b.IsZero ? Make(a.Sign == b.Sign ? a.Sign : rc == 1, 0, 0) : a.IsZero ? b : a;
        }

        var (sa, ea, ma) = a.Unpack();
        var (sb, eb, mb) = b.Unpack();
        if (eb > ea || (eb == ea && mb > ma))
        {
            (sa, ea, ma, sb, eb, mb) = (sb, eb, mb, sa, ea, ma);
        }

        UInt128 x = (UInt128)ma << 62, y = (UInt128)mb << 62;
        int diff = ea - eb;
        bool sticky = false;
        if (diff >= 126)
        {
            sticky = y != 0;
            y = 0;
        }
        else if (diff > 0)
        {
            sticky = (y & ((UInt128.One << diff) - 1)) != 0;
            y >>= diff;
        }

        UInt128 sum;
        if (sa == sb)
        {
            sum = x + y;
        }
        else
        {
            sum = x - y - (sticky ? 1u : 0u); // the sticky bit stands for a borrow below the kept bits
        }

        if (sum == 0 && !sticky)
        {
            return Make(rc == 1, 0, 0);
        }

        return Round(sa, ea + 2, sum, sticky, precision, rc); // bit 125 of x is the integer bit: value 2^ea at bit 125
    }

    public static Float80 Multiply(Float80 a, Float80 b, int precision, int rc)
    {
        if (a.IsNaN || b.IsNaN)
        {
            return PropagateNaN(a, b);
        }

        bool sign = a.Sign != b.Sign;
        if (a.IsInfinity || b.IsInfinity)
        {
            return a.IsZero || b.IsZero ? Indefinite : Infinity(sign);
        }

        if (a.IsZero || b.IsZero)
        {
            return Make(sign, 0, 0);
        }

        var (_, ea, ma) = a.Unpack();
        var (_, eb, mb) = b.Unpack();
        return Round(sign, ea + eb + 1, (UInt128)ma * mb, false, precision, rc);
    }

    public static Float80 Divide(Float80 a, Float80 b, int precision, int rc)
    {
        if (a.IsNaN || b.IsNaN)
        {
            return PropagateNaN(a, b);
        }

        bool sign = a.Sign != b.Sign;
        if (a.IsInfinity)
        {
            return b.IsInfinity ? Indefinite : Infinity(sign);
        }

        if (b.IsInfinity || a.IsZero)
        {
            return b.IsZero ? Indefinite : Make(sign, 0, 0);
        }

        if (b.IsZero)
        {
            return Infinity(sign);
        }

        var (_, ea, ma) = a.Unpack();
        var (_, eb, mb) = b.Unpack();
        UInt128 numerator = (UInt128)ma << 64;
        UInt128 q1 = numerator / mb, r1 = numerator % mb;
        UInt128 q2 = (r1 << 64) / mb, r2 = (r1 << 64) % mb;
        // q1 × 2^-64 + q2 × 2^-128 is ma/mb (in [0.5, 2)); q1 has its top bit at 63 or 64.
        UInt128 mantissa = (q1 << 62) | (q2 >> 2);
        bool sticky = (q2 & 3) != 0 || r2 != 0;
        return Round(sign, ea - eb + 1, mantissa, sticky, precision, rc);
    }

    private static Float80 PropagateNaN(Float80 a, Float80 b)
    {
        if (a.IsNaN && b.IsNaN)
        {
            // Two NaNs: the one with the larger significand (SDM vol. 1 table 4-7), quieted.
            return (a.Significand << 1) >= (b.Significand << 1) ? a.Quiet() : b.Quiet();
        }

        return (a.IsNaN ? a : b).Quiet();
    }

    /// <summary>-1, 0 or 1, or null when unordered (a NaN).</summary>
    public static int? Compare(Float80 a, Float80 b)
    {
        if (a.IsNaN || b.IsNaN)
        {
            return null;
        }

        if (a.IsZero && b.IsZero)
        {
            return 0;
        }

        if (a.Sign != b.Sign)
        {
            return a.Sign ? -1 : 1;
        }

        int magnitude = a.Exponent != b.Exponent ? a.Exponent.CompareTo(b.Exponent) : a.Significand.CompareTo(b.Significand);
        return a.Sign ? -magnitude : magnitude;
    }

    /// <summary>To binary64 or binary32 bits under <paramref name="rc"/>: the precision and the exponent range of the format.</summary>
    public ulong ToBinary(int fraction, int exponentBits, int rc)
    {
        int max = (1 << exponentBits) - 1, bias = max >> 1;
        ulong signBit = Sign ? 1UL << (fraction + exponentBits) : 0;
        if (IsNaN)
        {
            return signBit | ((ulong)max << fraction) | (1UL << (fraction - 1)) | ((Significand << 2) >> (66 - fraction));
        }

        if (IsInfinity)
        {
            return signBit | ((ulong)max << fraction);
        }

        if (IsZero)
        {
            return signBit;
        }

        var (sign, e, m) = Unpack();
        // Round to the format: re-bias the exponent range into Float80's by rounding at (fraction + 1) bits, with
        // denormalisation handled by shifting first.
        int target = e + bias;
        UInt128 mantissa = (UInt128)m << 64;
        bool sticky = false;
        int precision = fraction + 1;
        if (target <= 0)
        {
            int extra = 1 - target;
            if (extra >= 128)
            {
                sticky = true;
                mantissa = 0;
            }
            else
            {
                sticky = (mantissa & ((UInt128.One << extra) - 1)) != 0;
                mantissa >>= extra;
            }

            target = 0;
        }

        UInt128 kept = mantissa >> (128 - precision);
        if (RoundsUp(sign, kept, mantissa & ((UInt128.One << (128 - precision)) - 1), 128 - precision, sticky, rc))
        {
            kept++;
        }

        if (kept >> precision != 0)
        {
            kept >>= 1;
            target++;
        }
        else if (target == 0 && (kept >> fraction) != 0)
        {
            target = 1;
        }

        if (target >= max)
        {
            return OverflowsToInfinity(sign, rc) ? signBit | ((ulong)max << fraction) : signBit | (((ulong)max - 1) << fraction) | ((1UL << fraction) - 1);
        }

        return signBit | ((ulong)target << fraction) | ((ulong)kept & ((1UL << fraction) - 1));
    }

    /// <summary>To an integer of <paramref name="bits"/> under <paramref name="rc"/>; null when it does not fit (the integer indefinite follows).</summary>
    public long? ToInteger(int bits, int rc)
    {
        if (IsNaN || IsInfinity)
        {
            return null;
        }

        if (IsZero)
        {
            return 0;
        }

        var (sign, e, m) = Unpack();
        if (e >= 64)
        {
            return null;
        }

        UInt128 value;
        bool up;
        if (e < 0)
        {
            value = 0;
            // Below 1: at nearest, only more than a half rounds up (exactly a half goes to the even 0).
            up = rc switch
            {
                0 => e == -1 && (m << 1) != 0,
                1 => sign,
                2 => !sign,
                _ => false,
            };
        }
        else
        {
            int drop = 63 - e;
            value = drop == 0 ? m : m >> drop;
            up = drop > 0 && RoundsUp(sign, value, m & ((1UL << drop) - 1), drop, false, rc);
        }

        if (up)
        {
            value++;
        }

        UInt128 limit = UInt128.One << (bits - 1);
        if (sign ? value > limit : value >= limit)
        {
            return null;
        }

        return sign ? -(long)(ulong)value : (long)(ulong)value;
    }
}
