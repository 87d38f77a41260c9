using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Iced.Intel;

namespace CocoLaunch.Cpu;

/// <summary>
/// The lane operations of the packed SSE/SSE2 forms, on an XMM register's 128 bits. The interpreter (Sse.cs) and
/// compiled blocks (Jit/BlockCompiler.Sse.cs) call the same methods, so the two cannot differ; compiled code calls
/// them with the immediate as a constant, which RyuJIT folds to the one host instruction. Where .NET's portable
/// Vector128 has no exact equivalent (unpacks, saturating packs, shuffles), SSE2 itself is used on hosts that have
/// it and a lane-by-lane definition elsewhere.
/// </summary>
internal static class SseLanes
{
    /// <summary>The operation of a two-operand form (xmm, xmm/m128), or null.</summary>
    public static Func<Vector128<ulong>, Vector128<ulong>, Vector128<ulong>>? Binary(Mnemonic m) => m switch
    {
        Mnemonic.Pxor or Mnemonic.Xorps or Mnemonic.Xorpd => Pxor,
        Mnemonic.Pand or Mnemonic.Andps or Mnemonic.Andpd => Pand,
        Mnemonic.Pandn or Mnemonic.Andnps or Mnemonic.Andnpd => Pandn,
        Mnemonic.Por or Mnemonic.Orps or Mnemonic.Orpd => Por,
        Mnemonic.Paddb => Paddb,
        Mnemonic.Paddw => Paddw,
        Mnemonic.Paddd => Paddd,
        Mnemonic.Paddq => Paddq,
        Mnemonic.Psubb => Psubb,
        Mnemonic.Psubw => Psubw,
        Mnemonic.Psubd => Psubd,
        Mnemonic.Psubq => Psubq,
        Mnemonic.Pmullw => Pmullw,
        Mnemonic.Pmuludq => Pmuludq,
        Mnemonic.Pcmpeqb => Pcmpeqb,
        Mnemonic.Pcmpeqw => Pcmpeqw,
        Mnemonic.Pcmpeqd => Pcmpeqd,
        Mnemonic.Pcmpgtb => Pcmpgtb,
        Mnemonic.Pcmpgtw => Pcmpgtw,
        Mnemonic.Pcmpgtd => Pcmpgtd,
        Mnemonic.Pminub => Pminub,
        Mnemonic.Pmaxub => Pmaxub,
        Mnemonic.Pminsw => Pminsw,
        Mnemonic.Pmaxsw => Pmaxsw,
        Mnemonic.Punpcklbw => Punpcklbw,
        Mnemonic.Punpckhbw => Punpckhbw,
        Mnemonic.Punpcklwd => Punpcklwd,
        Mnemonic.Punpckhwd => Punpckhwd,
        Mnemonic.Punpckldq or Mnemonic.Unpcklps => Punpckldq,
        Mnemonic.Punpckhdq or Mnemonic.Unpckhps => Punpckhdq,
        Mnemonic.Punpcklqdq or Mnemonic.Unpcklpd => Punpcklqdq,
        Mnemonic.Punpckhqdq or Mnemonic.Unpckhpd => Punpckhqdq,
        Mnemonic.Packuswb => Packuswb,
        Mnemonic.Packsswb => Packsswb,
        Mnemonic.Addpd => Addpd,
        Mnemonic.Mulpd => Mulpd,
        Mnemonic.Addps => Addps,
        Mnemonic.Mulps => Mulps,
        _ => null,
    };

    /// <summary>The operation of a shift by a count (imm8 or the low quadword of xmm/m128), or null.</summary>
    public static Func<Vector128<ulong>, ulong, Vector128<ulong>>? Shift(Mnemonic m) => m switch
    {
        Mnemonic.Psrlw => Psrlw,
        Mnemonic.Psllw => Psllw,
        Mnemonic.Psraw => Psraw,
        Mnemonic.Psrld => Psrld,
        Mnemonic.Pslld => Pslld,
        Mnemonic.Psrad => Psrad,
        Mnemonic.Psrlq => Psrlq,
        Mnemonic.Psllq => Psllq,
        _ => null,
    };

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ulong> Load(ref ulong slot) => Unsafe.ReadUnaligned<Vector128<ulong>>(ref Unsafe.As<ulong, byte>(ref slot));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(ref ulong slot, Vector128<ulong> v) => Unsafe.WriteUnaligned(ref Unsafe.As<ulong, byte>(ref slot), v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Low(Vector128<ulong> v) => v.GetElement(0);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ulong> Pxor(Vector128<ulong> a, Vector128<ulong> b) => a ^ b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ulong> Pand(Vector128<ulong> a, Vector128<ulong> b) => a & b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ulong> Pandn(Vector128<ulong> a, Vector128<ulong> b) => ~a & b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ulong> Por(Vector128<ulong> a, Vector128<ulong> b) => a | b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ulong> Paddb(Vector128<ulong> a, Vector128<ulong> b) => (a.AsByte() + b.AsByte()).AsUInt64();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ulong> Paddw(Vector128<ulong> a, Vector128<ulong> b) => (a.AsUInt16() + b.AsUInt16()).AsUInt64();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ulong> Paddd(Vector128<ulong> a, Vector128<ulong> b) => (a.AsUInt32() + b.AsUInt32()).AsUInt64();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ulong> Paddq(Vector128<ulong> a, Vector128<ulong> b) => a + b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ulong> Psubb(Vector128<ulong> a, Vector128<ulong> b) => (a.AsByte() - b.AsByte()).AsUInt64();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ulong> Psubw(Vector128<ulong> a, Vector128<ulong> b) => (a.AsUInt16() - b.AsUInt16()).AsUInt64();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ulong> Psubd(Vector128<ulong> a, Vector128<ulong> b) => (a.AsUInt32() - b.AsUInt32()).AsUInt64();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ulong> Psubq(Vector128<ulong> a, Vector128<ulong> b) => a - b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ulong> Pmullw(Vector128<ulong> a, Vector128<ulong> b) => (a.AsUInt16() * b.AsUInt16()).AsUInt64();

    /// <summary>The low dword of each quadword, multiplied to a full quadword.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ulong> Pmuludq(Vector128<ulong> a, Vector128<ulong> b) => Sse2.IsSupported
        ? Sse2.Multiply(a.AsUInt32(), b.AsUInt32())
        : (a & Vector128.Create(0xFFFF_FFFFUL)) * (b & Vector128.Create(0xFFFF_FFFFUL));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ulong> Pcmpeqb(Vector128<ulong> a, Vector128<ulong> b) => Vector128.Equals(a.AsByte(), b.AsByte()).AsUInt64();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ulong> Pcmpeqw(Vector128<ulong> a, Vector128<ulong> b) => Vector128.Equals(a.AsUInt16(), b.AsUInt16()).AsUInt64();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ulong> Pcmpeqd(Vector128<ulong> a, Vector128<ulong> b) => Vector128.Equals(a.AsUInt32(), b.AsUInt32()).AsUInt64();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ulong> Pcmpgtb(Vector128<ulong> a, Vector128<ulong> b) => Vector128.GreaterThan(a.AsSByte(), b.AsSByte()).AsUInt64();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ulong> Pcmpgtw(Vector128<ulong> a, Vector128<ulong> b) => Vector128.GreaterThan(a.AsInt16(), b.AsInt16()).AsUInt64();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ulong> Pcmpgtd(Vector128<ulong> a, Vector128<ulong> b) => Vector128.GreaterThan(a.AsInt32(), b.AsInt32()).AsUInt64();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ulong> Pminub(Vector128<ulong> a, Vector128<ulong> b) => Vector128.Min(a.AsByte(), b.AsByte()).AsUInt64();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ulong> Pmaxub(Vector128<ulong> a, Vector128<ulong> b) => Vector128.Max(a.AsByte(), b.AsByte()).AsUInt64();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ulong> Pminsw(Vector128<ulong> a, Vector128<ulong> b) => Vector128.Min(a.AsInt16(), b.AsInt16()).AsUInt64();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ulong> Pmaxsw(Vector128<ulong> a, Vector128<ulong> b) => Vector128.Max(a.AsInt16(), b.AsInt16()).AsUInt64();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ulong> Punpcklbw(Vector128<ulong> a, Vector128<ulong> b) =>
        Sse2.IsSupported ? Sse2.UnpackLow(a.AsByte(), b.AsByte()).AsUInt64() : Interleave(a.AsByte(), b.AsByte(), high: false).AsUInt64();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ulong> Punpckhbw(Vector128<ulong> a, Vector128<ulong> b) =>
        Sse2.IsSupported ? Sse2.UnpackHigh(a.AsByte(), b.AsByte()).AsUInt64() : Interleave(a.AsByte(), b.AsByte(), high: true).AsUInt64();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ulong> Punpcklwd(Vector128<ulong> a, Vector128<ulong> b) =>
        Sse2.IsSupported ? Sse2.UnpackLow(a.AsUInt16(), b.AsUInt16()).AsUInt64() : Interleave(a.AsUInt16(), b.AsUInt16(), high: false).AsUInt64();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ulong> Punpckhwd(Vector128<ulong> a, Vector128<ulong> b) =>
        Sse2.IsSupported ? Sse2.UnpackHigh(a.AsUInt16(), b.AsUInt16()).AsUInt64() : Interleave(a.AsUInt16(), b.AsUInt16(), high: true).AsUInt64();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ulong> Punpckldq(Vector128<ulong> a, Vector128<ulong> b) =>
        Sse2.IsSupported ? Sse2.UnpackLow(a.AsUInt32(), b.AsUInt32()).AsUInt64() : Interleave(a.AsUInt32(), b.AsUInt32(), high: false).AsUInt64();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ulong> Punpckhdq(Vector128<ulong> a, Vector128<ulong> b) =>
        Sse2.IsSupported ? Sse2.UnpackHigh(a.AsUInt32(), b.AsUInt32()).AsUInt64() : Interleave(a.AsUInt32(), b.AsUInt32(), high: true).AsUInt64();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ulong> Punpcklqdq(Vector128<ulong> a, Vector128<ulong> b) => Vector128.Create(a.GetElement(0), b.GetElement(0));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ulong> Punpckhqdq(Vector128<ulong> a, Vector128<ulong> b) => Vector128.Create(a.GetElement(1), b.GetElement(1));

    /// <summary>Signed words of a then b, narrowed to unsigned bytes with saturation.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ulong> Packuswb(Vector128<ulong> a, Vector128<ulong> b) =>
        Sse2.IsSupported ? Sse2.PackUnsignedSaturate(a.AsInt16(), b.AsInt16()).AsUInt64() : PackUnsignedSaturate(a.AsInt16(), b.AsInt16()).AsUInt64();

    /// <summary>Signed words of a then b, narrowed to signed bytes with saturation.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ulong> Packsswb(Vector128<ulong> a, Vector128<ulong> b) =>
        Sse2.IsSupported ? Sse2.PackSignedSaturate(a.AsInt16(), b.AsInt16()).AsUInt64() : PackSignedSaturate(a.AsInt16(), b.AsInt16()).AsUInt64();

    // The packed float forms use .NET's arithmetic: round to nearest, no MXCSR status, like the scalar ones (SseScalar).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ulong> Addpd(Vector128<ulong> a, Vector128<ulong> b) => (a.AsDouble() + b.AsDouble()).AsUInt64();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ulong> Mulpd(Vector128<ulong> a, Vector128<ulong> b) => (a.AsDouble() * b.AsDouble()).AsUInt64();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ulong> Addps(Vector128<ulong> a, Vector128<ulong> b) => (a.AsSingle() + b.AsSingle()).AsUInt64();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ulong> Mulps(Vector128<ulong> a, Vector128<ulong> b) => (a.AsSingle() * b.AsSingle()).AsUInt64();

    // Shifts: a count at or above the lane width clears a logical shift's lanes and fills an arithmetic one's with
    // the sign; .NET's shifts take the count modulo the width, so those counts are handled here.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ulong> Psrlw(Vector128<ulong> v, ulong count) =>
        count >= 16 ? Vector128<ulong>.Zero : Vector128.ShiftRightLogical(v.AsUInt16(), (int)count).AsUInt64();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ulong> Psllw(Vector128<ulong> v, ulong count) =>
        count >= 16 ? Vector128<ulong>.Zero : Vector128.ShiftLeft(v.AsUInt16(), (int)count).AsUInt64();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ulong> Psraw(Vector128<ulong> v, ulong count) =>
        Vector128.ShiftRightArithmetic(v.AsInt16(), (int)Math.Min(count, 15)).AsUInt64();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ulong> Psrld(Vector128<ulong> v, ulong count) =>
        count >= 32 ? Vector128<ulong>.Zero : Vector128.ShiftRightLogical(v.AsUInt32(), (int)count).AsUInt64();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ulong> Pslld(Vector128<ulong> v, ulong count) =>
        count >= 32 ? Vector128<ulong>.Zero : Vector128.ShiftLeft(v.AsUInt32(), (int)count).AsUInt64();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ulong> Psrad(Vector128<ulong> v, ulong count) =>
        Vector128.ShiftRightArithmetic(v.AsInt32(), (int)Math.Min(count, 31)).AsUInt64();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ulong> Psrlq(Vector128<ulong> v, ulong count) =>
        count >= 64 ? Vector128<ulong>.Zero : Vector128.ShiftRightLogical(v, (int)count);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ulong> Psllq(Vector128<ulong> v, ulong count) =>
        count >= 64 ? Vector128<ulong>.Zero : Vector128.ShiftLeft(v, (int)count);

    // The immediates below are constants in compiled code, where each of these methods is inlined and becomes the one
    // host instruction; the interpreter's variable immediate takes RyuJIT's fallback (a jump table), still exact.
#pragma warning disable CA1857

    /// <summary>The whole register shifted right by <paramref name="bytes"/> bytes (16 or more clears it).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ulong> Psrldq(Vector128<ulong> v, byte bytes)
    {
        if (Sse2.IsSupported)
        {
            return Sse2.ShiftRightLogical128BitLane(v, bytes);
        }

        UInt128 x = ToUInt128(v);
        return FromUInt128(bytes >= 16 ? 0 : x >> (8 * bytes));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ulong> Pslldq(Vector128<ulong> v, byte bytes)
    {
        if (Sse2.IsSupported)
        {
            return Sse2.ShiftLeftLogical128BitLane(v, bytes);
        }

        UInt128 x = ToUInt128(v);
        return FromUInt128(bytes >= 16 ? 0 : x << (8 * bytes));
    }

    /// <summary>Each dword of the result is the source dword the immediate's next two bits select.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ulong> Pshufd(Vector128<ulong> v, byte imm)
    {
        if (Sse2.IsSupported)
        {
            return Sse2.Shuffle(v.AsUInt32(), imm).AsUInt64();
        }

        var s = v.AsUInt32();
        return Vector128.Create(s.GetElement(imm & 3), s.GetElement((imm >> 2) & 3), s.GetElement((imm >> 4) & 3), s.GetElement((imm >> 6) & 3)).AsUInt64();
    }

    /// <summary>The low two dwords chosen from a, the high two from b.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ulong> Shufps(Vector128<ulong> a, Vector128<ulong> b, byte imm)
    {
        if (Sse.IsSupported)
        {
            return Sse.Shuffle(a.AsSingle(), b.AsSingle(), imm).AsUInt64(); // a bit permutation: no arithmetic on the floats
        }

        var x = a.AsUInt32();
        var y = b.AsUInt32();
        return Vector128.Create(x.GetElement(imm & 3), x.GetElement((imm >> 2) & 3), y.GetElement((imm >> 4) & 3), y.GetElement((imm >> 6) & 3)).AsUInt64();
    }

#pragma warning restore CA1857

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ulong> Shufpd(Vector128<ulong> a, Vector128<ulong> b, byte imm) => Vector128.Create(a.GetElement(imm & 1), b.GetElement((imm >> 1) & 1));

    /// <summary>MOVHLPS: the source's high quadword into the destination's low one.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ulong> Movhlps(Vector128<ulong> a, Vector128<ulong> b) => Vector128.Create(b.GetElement(1), a.GetElement(1));

    /// <summary>MOVLHPS: the source's low quadword into the destination's high one.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ulong> Movlhps(Vector128<ulong> a, Vector128<ulong> b) => Vector128.Create(a.GetElement(0), b.GetElement(0));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Pmovmskb(Vector128<ulong> v) => Vector128.ExtractMostSignificantBits(v.AsByte());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Movmskps(Vector128<ulong> v) => Vector128.ExtractMostSignificantBits(v.AsUInt32());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Movmskpd(Vector128<ulong> v) => Vector128.ExtractMostSignificantBits(v);

    private static Vector128<T> Interleave<T>(Vector128<T> a, Vector128<T> b, bool high)
        where T : unmanaged
    {
        int n = Vector128<T>.Count;
        Span<T> r = stackalloc T[n];
        int start = high ? n / 2 : 0;
        for (int k = 0; k < n / 2; k++)
        {
            r[2 * k] = a.GetElement(start + k);
            r[(2 * k) + 1] = b.GetElement(start + k);
        }

        return Vector128.Create<T>(r);
    }

    private static Vector128<byte> PackUnsignedSaturate(Vector128<short> a, Vector128<short> b)
    {
        Span<byte> r = stackalloc byte[16];
        for (int k = 0; k < 8; k++)
        {
            r[k] = (byte)Math.Clamp((int)a.GetElement(k), 0, 255);
            r[k + 8] = (byte)Math.Clamp((int)b.GetElement(k), 0, 255);
        }

        return Vector128.Create<byte>(r);
    }

    private static Vector128<sbyte> PackSignedSaturate(Vector128<short> a, Vector128<short> b)
    {
        Span<sbyte> r = stackalloc sbyte[16];
        for (int k = 0; k < 8; k++)
        {
            r[k] = (sbyte)Math.Clamp((int)a.GetElement(k), -128, 127);
            r[k + 8] = (sbyte)Math.Clamp((int)b.GetElement(k), -128, 127);
        }

        return Vector128.Create<sbyte>(r);
    }

    private static UInt128 ToUInt128(Vector128<ulong> v) => ((UInt128)v.GetElement(1) << 64) | v.GetElement(0);

    private static Vector128<ulong> FromUInt128(UInt128 v) => Vector128.Create((ulong)v, (ulong)(v >> 64));
}
