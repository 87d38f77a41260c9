using System.Runtime.Intrinsics;
using Iced.Intel;
using static CocoLaunch.Cpu.CpuState;

namespace CocoLaunch.Cpu;

/// <summary>
/// The SSE/SSE2 subset gcc emits by default (cpu-emulator.md §3.1): moves, logic, integer lanes, shuffles and
/// unpacks, compares, and scalar double/single arithmetic and conversions. Lanes are computed with .NET's
/// portable Vector128, whose integer semantics match SSE2's.
/// </summary>
public sealed partial class X86Cpu
{
    private bool ExecuteSse(ref Instruction i) => IsSse(ref i) && ExecuteSseForm(ref i);

    /// <summary>An instruction already known to be one of the SSE forms (<see cref="IsSse"/> depends on its Code alone).</summary>
    private bool ExecuteSseForm(ref Instruction i)
    {
        if ((State.Cr0 & Cr0Em) != 0 || (State.Cr4 & Cr4OsFxsr) == 0)
        {
            throw GuestFault.Ud();
        }

        if ((State.Cr0 & Cr0Ts) != 0)
        {
            throw new GuestFault(Vector.DeviceNotAvailable);
        }

        switch (i.Mnemonic)
        {
            case Mnemonic.Movdqa or Mnemonic.Movaps or Mnemonic.Movapd:
                MoveVector(ref i, aligned: true);
                return true;
            case Mnemonic.Movdqu or Mnemonic.Movups or Mnemonic.Movupd:
                MoveVector(ref i, aligned: false);
                return true;
            case Mnemonic.Movd or Mnemonic.Movq:
                MoveScalarInteger(ref i);
                return true;
            case Mnemonic.Movss or Mnemonic.Movsd when !i.IsStringInstruction:
                MoveScalarFloat(ref i, i.Mnemonic == Mnemonic.Movss ? 4 : 8);
                return true;
            case Mnemonic.Movhps or Mnemonic.Movhpd or Mnemonic.Movlps or Mnemonic.Movlpd:
                MoveHalf(ref i);
                return true;
            case Mnemonic.Pxor or Mnemonic.Xorps or Mnemonic.Xorpd: Binary(ref i, (a, b) => a ^ b); return true;
            case Mnemonic.Pand or Mnemonic.Andps or Mnemonic.Andpd: Binary(ref i, (a, b) => a & b); return true;
            case Mnemonic.Pandn or Mnemonic.Andnps or Mnemonic.Andnpd: Binary(ref i, (a, b) => ~a & b); return true;
            case Mnemonic.Por or Mnemonic.Orps or Mnemonic.Orpd: Binary(ref i, (a, b) => a | b); return true;
            case Mnemonic.Paddb: Binary(ref i, (a, b) => (a.AsByte() + b.AsByte()).AsUInt64()); return true;
            case Mnemonic.Paddw: Binary(ref i, (a, b) => (a.AsUInt16() + b.AsUInt16()).AsUInt64()); return true;
            case Mnemonic.Paddd: Binary(ref i, (a, b) => (a.AsUInt32() + b.AsUInt32()).AsUInt64()); return true;
            case Mnemonic.Paddq: Binary(ref i, (a, b) => a + b); return true;
            case Mnemonic.Psubb: Binary(ref i, (a, b) => (a.AsByte() - b.AsByte()).AsUInt64()); return true;
            case Mnemonic.Psubw: Binary(ref i, (a, b) => (a.AsUInt16() - b.AsUInt16()).AsUInt64()); return true;
            case Mnemonic.Psubd: Binary(ref i, (a, b) => (a.AsUInt32() - b.AsUInt32()).AsUInt64()); return true;
            case Mnemonic.Psubq: Binary(ref i, (a, b) => a - b); return true;
            case Mnemonic.Pmullw: Binary(ref i, (a, b) => (a.AsUInt16() * b.AsUInt16()).AsUInt64()); return true;
            case Mnemonic.Pmuludq: Binary(ref i, (a, b) => (a & Vector128.Create(0xFFFF_FFFFUL)) * (b & Vector128.Create(0xFFFF_FFFFUL))); return true;
            case Mnemonic.Pcmpeqb: Binary(ref i, (a, b) => Vector128.Equals(a.AsByte(), b.AsByte()).AsUInt64()); return true;
            case Mnemonic.Pcmpeqw: Binary(ref i, (a, b) => Vector128.Equals(a.AsUInt16(), b.AsUInt16()).AsUInt64()); return true;
            case Mnemonic.Pcmpeqd: Binary(ref i, (a, b) => Vector128.Equals(a.AsUInt32(), b.AsUInt32()).AsUInt64()); return true;
            case Mnemonic.Pcmpgtb: Binary(ref i, (a, b) => Vector128.GreaterThan(a.AsSByte(), b.AsSByte()).AsUInt64()); return true;
            case Mnemonic.Pcmpgtw: Binary(ref i, (a, b) => Vector128.GreaterThan(a.AsInt16(), b.AsInt16()).AsUInt64()); return true;
            case Mnemonic.Pcmpgtd: Binary(ref i, (a, b) => Vector128.GreaterThan(a.AsInt32(), b.AsInt32()).AsUInt64()); return true;
            case Mnemonic.Pminub: Binary(ref i, (a, b) => Vector128.Min(a.AsByte(), b.AsByte()).AsUInt64()); return true;
            case Mnemonic.Pmaxub: Binary(ref i, (a, b) => Vector128.Max(a.AsByte(), b.AsByte()).AsUInt64()); return true;
            case Mnemonic.Pminsw: Binary(ref i, (a, b) => Vector128.Min(a.AsInt16(), b.AsInt16()).AsUInt64()); return true;
            case Mnemonic.Pmaxsw: Binary(ref i, (a, b) => Vector128.Max(a.AsInt16(), b.AsInt16()).AsUInt64()); return true;
            case Mnemonic.Punpcklbw: Binary(ref i, (a, b) => Interleave(a.AsByte(), b.AsByte(), high: false).AsUInt64()); return true;
            case Mnemonic.Punpckhbw: Binary(ref i, (a, b) => Interleave(a.AsByte(), b.AsByte(), high: true).AsUInt64()); return true;
            case Mnemonic.Punpcklwd: Binary(ref i, (a, b) => Interleave(a.AsUInt16(), b.AsUInt16(), high: false).AsUInt64()); return true;
            case Mnemonic.Punpckhwd: Binary(ref i, (a, b) => Interleave(a.AsUInt16(), b.AsUInt16(), high: true).AsUInt64()); return true;
            case Mnemonic.Punpckldq or Mnemonic.Unpcklps: Binary(ref i, (a, b) => Interleave(a.AsUInt32(), b.AsUInt32(), high: false).AsUInt64()); return true;
            case Mnemonic.Punpckhdq or Mnemonic.Unpckhps: Binary(ref i, (a, b) => Interleave(a.AsUInt32(), b.AsUInt32(), high: true).AsUInt64()); return true;
            case Mnemonic.Punpcklqdq or Mnemonic.Unpcklpd: Binary(ref i, (a, b) => Vector128.Create(a.GetElement(0), b.GetElement(0))); return true;
            case Mnemonic.Punpckhqdq or Mnemonic.Unpckhpd: Binary(ref i, (a, b) => Vector128.Create(a.GetElement(1), b.GetElement(1))); return true;
            case Mnemonic.Packuswb: Binary(ref i, (a, b) => PackUnsignedSaturate(a.AsInt16(), b.AsInt16()).AsUInt64()); return true;
            case Mnemonic.Packsswb: Binary(ref i, (a, b) => PackSignedSaturate(a.AsInt16(), b.AsInt16()).AsUInt64()); return true;
            case Mnemonic.Pshufd:
            {
                var src = ReadXmmOperand(ref i, 1, 16).AsUInt32();
                byte imm = i.Immediate8;
                WriteXmm(i.Op0Register, Vector128.Create(src.GetElement(imm & 3), src.GetElement((imm >> 2) & 3), src.GetElement((imm >> 4) & 3), src.GetElement((imm >> 6) & 3)).AsUInt64());
                return true;
            }

            case Mnemonic.Shufps:
            {
                var a = ReadXmm(i.Op0Register).AsUInt32();
                var b = ReadXmmOperand(ref i, 1, 16).AsUInt32();
                byte imm = i.Immediate8;
                WriteXmm(i.Op0Register, Vector128.Create(a.GetElement(imm & 3), a.GetElement((imm >> 2) & 3), b.GetElement((imm >> 4) & 3), b.GetElement((imm >> 6) & 3)).AsUInt64());
                return true;
            }

            case Mnemonic.Shufpd:
            {
                var a = ReadXmm(i.Op0Register);
                var b = ReadXmmOperand(ref i, 1, 16, aligned: true);
                byte imm = i.Immediate8;
                WriteXmm(i.Op0Register, Vector128.Create(a.GetElement(imm & 1), b.GetElement((imm >> 1) & 1)));
                return true;
            }

            case Mnemonic.Movhlps or Mnemonic.Movlhps:
            {
                // Register-to-register only: one half of the source into the other half of the destination.
                var a = ReadXmm(i.Op0Register);
                var b = ReadXmm(i.Op1Register);
                WriteXmm(i.Op0Register, i.Mnemonic == Mnemonic.Movhlps ? Vector128.Create(b.GetElement(1), a.GetElement(1)) : Vector128.Create(a.GetElement(0), b.GetElement(0)));
                return true;
            }

            case Mnemonic.Pmovmskb:
            {
                var v = ReadXmm(i.Op1Register).AsByte();
                WriteReg(i.Op0Register, Vector128.ExtractMostSignificantBits(v));
                return true;
            }

            case Mnemonic.Movmskps: WriteReg(i.Op0Register, Vector128.ExtractMostSignificantBits(ReadXmm(i.Op1Register).AsUInt32())); return true;
            case Mnemonic.Movmskpd: WriteReg(i.Op0Register, Vector128.ExtractMostSignificantBits(ReadXmm(i.Op1Register))); return true;
            case Mnemonic.Psrlw or Mnemonic.Psrld or Mnemonic.Psrlq or Mnemonic.Psllw or Mnemonic.Pslld or Mnemonic.Psllq or Mnemonic.Psraw or Mnemonic.Psrad:
                ShiftLanes(ref i);
                return true;
            case Mnemonic.Psrldq or Mnemonic.Pslldq:
            {
                int n = Math.Min((int)i.Immediate8, 16);
                UInt128 v = ToUInt128(ReadXmm(i.Op0Register));
                v = i.Mnemonic == Mnemonic.Psrldq ? (n == 16 ? 0 : v >> (8 * n)) : (n == 16 ? 0 : v << (8 * n));
                WriteXmm(i.Op0Register, FromUInt128(v));
                return true;
            }

            case Mnemonic.Addsd or Mnemonic.Subsd or Mnemonic.Mulsd or Mnemonic.Divsd or Mnemonic.Minsd or Mnemonic.Maxsd or Mnemonic.Sqrtsd:
                ScalarDouble(ref i);
                return true;
            case Mnemonic.Addss or Mnemonic.Subss or Mnemonic.Mulss or Mnemonic.Divss or Mnemonic.Minss or Mnemonic.Maxss or Mnemonic.Sqrtss:
                ScalarSingle(ref i);
                return true;
            case Mnemonic.Addpd: Binary(ref i, (a, b) => (a.AsDouble() + b.AsDouble()).AsUInt64()); return true;
            case Mnemonic.Mulpd: Binary(ref i, (a, b) => (a.AsDouble() * b.AsDouble()).AsUInt64()); return true;
            case Mnemonic.Addps: Binary(ref i, (a, b) => (a.AsSingle() + b.AsSingle()).AsUInt64()); return true;
            case Mnemonic.Mulps: Binary(ref i, (a, b) => (a.AsSingle() * b.AsSingle()).AsUInt64()); return true;
            case Mnemonic.Ucomisd or Mnemonic.Comisd or Mnemonic.Ucomiss or Mnemonic.Comiss:
                CompareScalar(ref i);
                return true;
            case Mnemonic.Cvtsi2sd or Mnemonic.Cvtsi2ss or Mnemonic.Cvttsd2si or Mnemonic.Cvtsd2si or Mnemonic.Cvttss2si or Mnemonic.Cvtss2si
                or Mnemonic.Cvtsd2ss or Mnemonic.Cvtss2sd:
                Convert(ref i);
                return true;
            case Mnemonic.Ldmxcsr: State.Mxcsr = (uint)ReadOp(i, 0, 4); return true;
            case Mnemonic.Stmxcsr: WriteOp(i, 0, 4, State.Mxcsr); return true;
            case Mnemonic.Fxsave or Mnemonic.Fxsave64: Fxsave(ref i); return true;
            case Mnemonic.Fxrstor or Mnemonic.Fxrstor64: Fxrstor(ref i); return true;
            default:
                return false;
        }
    }

    private static bool IsSse(ref Instruction i)
    {
        for (int n = 0; n < i.OpCount; n++)
        {
            if (i.GetOpKind(n) == OpKind.Register && i.GetOpRegister(n).IsXMM())
            {
                return true;
            }
        }

        // The forms with no XMM register: state save/restore, and conversions from memory to a GPR.
        return i.Mnemonic is Mnemonic.Ldmxcsr or Mnemonic.Stmxcsr or Mnemonic.Fxsave or Mnemonic.Fxsave64 or Mnemonic.Fxrstor or Mnemonic.Fxrstor64
            or Mnemonic.Cvttsd2si or Mnemonic.Cvtsd2si or Mnemonic.Cvttss2si or Mnemonic.Cvtss2si;
    }

    private Vector128<ulong> ReadXmm(Register r)
    {
        int n = r - Register.XMM0;
        return Vector128.Create(State.Xmm[2 * n], State.Xmm[(2 * n) + 1]);
    }

    private void WriteXmm(Register r, Vector128<ulong> v)
    {
        int n = r - Register.XMM0;
        State.Xmm[2 * n] = v.GetElement(0);
        State.Xmm[(2 * n) + 1] = v.GetElement(1);
    }

    /// <summary>An XMM or m128 operand; a narrower memory operand (scalar forms) fills the low lanes, zeros above.</summary>
    private Vector128<ulong> ReadXmmOperand(ref Instruction i, int n, int size, bool aligned = false)
    {
        if (i.GetOpKind(n) == OpKind.Register)
        {
            return ReadXmm(i.GetOpRegister(n));
        }

        var seg = SegOf(i.MemorySegment);
        ulong ea = EffectiveAddress(i);
        if (size == 16)
        {
            if (aligned && (Linear(seg, ea, 16) & 15) != 0)
            {
                throw GuestFault.Gp();
            }

            return Vector128.Create(Read(seg, ea, 8), Read(seg, ea + 8, 8));
        }

        return Vector128.Create(Read(seg, ea, size), 0UL);
    }

    private void Binary(ref Instruction i, Func<Vector128<ulong>, Vector128<ulong>, Vector128<ulong>> op)
    {
        // Legacy-SSE m128 operands must be 16-byte aligned except for the explicitly unaligned moves.
        var b = ReadXmmOperand(ref i, 1, 16, aligned: true);
        WriteXmm(i.Op0Register, op(ReadXmm(i.Op0Register), b));
    }

    private void MoveVector(ref Instruction i, bool aligned)
    {
        if (i.Op0Kind == OpKind.Memory)
        {
            var seg = SegOf(i.MemorySegment);
            ulong ea = EffectiveAddress(i);
            if (aligned && (Linear(seg, ea, 16) & 15) != 0)
            {
                throw GuestFault.Gp();
            }

            var v = ReadXmm(i.Op1Register);
            Write(seg, ea, 8, v.GetElement(0));
            Write(seg, ea + 8, 8, v.GetElement(1));
            return;
        }

        WriteXmm(i.Op0Register, ReadXmmOperand(ref i, 1, 16, aligned));
    }

    private void MoveScalarInteger(ref Instruction i)
    {
        int size = i.Mnemonic == Mnemonic.Movd ? 4 : 8;
        if (i.Op0Kind == OpKind.Register && i.Op0Register.IsXMM())
        {
            // MOVD/MOVQ into XMM zero the rest of the register; MOVQ xmm, xmm copies the low quadword.
            ulong v = i.Op1Kind == OpKind.Register && i.Op1Register.IsXMM() ? ReadXmm(i.Op1Register).GetElement(0) : ReadOp(i, 1, size);
            WriteXmm(i.Op0Register, Vector128.Create(v & Mask(size), 0UL));
            return;
        }

        ulong low = ReadXmm(i.Op1Register).GetElement(0) & Mask(size);
        if (i.Op0Kind == OpKind.Register)
        {
            WriteReg(i.Op0Register, low);
        }
        else
        {
            WriteOp(i, 0, size, low);
        }
    }

    private void MoveScalarFloat(ref Instruction i, int size)
    {
        ulong mask = Mask(size);
        if (i.Op0Kind == OpKind.Memory)
        {
            WriteOp(i, 0, size, ReadXmm(i.Op1Register).GetElement(0) & mask);
            return;
        }

        if (i.Op1Kind == OpKind.Memory)
        {
            WriteXmm(i.Op0Register, Vector128.Create(ReadOp(i, 1, size), 0UL)); // a load zeroes the upper lanes
            return;
        }

        var d = ReadXmm(i.Op0Register);
        ulong s = ReadXmm(i.Op1Register).GetElement(0);
        WriteXmm(i.Op0Register, d.WithElement(0, (d.GetElement(0) & ~mask) | (s & mask)));
    }

    private void MoveHalf(ref Instruction i)
    {
        bool high = i.Mnemonic is Mnemonic.Movhps or Mnemonic.Movhpd;
        if (i.Op0Kind == OpKind.Memory)
        {
            WriteOp(i, 0, 8, ReadXmm(i.Op1Register).GetElement(high ? 1 : 0));
            return;
        }

        ulong v = i.Op1Kind == OpKind.Register ? ReadXmm(i.Op1Register).GetElement(high ? 0 : 1) : ReadOp(i, 1, 8);
        WriteXmm(i.Op0Register, ReadXmm(i.Op0Register).WithElement(high ? 1 : 0, v));
    }

    private void ShiftLanes(ref Instruction i)
    {
        ulong count = i.Op1Kind == OpKind.Immediate8 ? i.Immediate8 : ReadXmmOperand(ref i, 1, 16, aligned: true).GetElement(0);
        var v = ReadXmm(i.Op0Register);
        int c = (int)Math.Min(count, 64);
        Vector128<ulong> r = i.Mnemonic switch
        {
            Mnemonic.Psrlw => c >= 16 ? Vector128<ulong>.Zero : Vector128.ShiftRightLogical(v.AsUInt16(), c).AsUInt64(),
            Mnemonic.Psllw => c >= 16 ? Vector128<ulong>.Zero : Vector128.ShiftLeft(v.AsUInt16(), c).AsUInt64(),
            Mnemonic.Psraw => Vector128.ShiftRightArithmetic(v.AsInt16(), Math.Min(c, 15)).AsUInt64(),
            Mnemonic.Psrld => c >= 32 ? Vector128<ulong>.Zero : Vector128.ShiftRightLogical(v.AsUInt32(), c).AsUInt64(),
            Mnemonic.Pslld => c >= 32 ? Vector128<ulong>.Zero : Vector128.ShiftLeft(v.AsUInt32(), c).AsUInt64(),
            Mnemonic.Psrad => Vector128.ShiftRightArithmetic(v.AsInt32(), Math.Min(c, 31)).AsUInt64(),
            Mnemonic.Psrlq => c >= 64 ? Vector128<ulong>.Zero : Vector128.ShiftRightLogical(v, c),
            _ => c >= 64 ? Vector128<ulong>.Zero : Vector128.ShiftLeft(v, c),
        };
        WriteXmm(i.Op0Register, r);
    }

    private void ScalarDouble(ref Instruction i)
    {
        var d = ReadXmm(i.Op0Register);
        double a = BitConverter.UInt64BitsToDouble(d.GetElement(0));
        double b = BitConverter.UInt64BitsToDouble(ReadXmmOperand(ref i, 1, 8).GetElement(0));
        double r = i.Mnemonic switch
        {
            Mnemonic.Addsd => a + b,
            Mnemonic.Subsd => a - b,
            Mnemonic.Mulsd => a * b,
            Mnemonic.Divsd => a / b,
            Mnemonic.Minsd => a < b ? a : b, // SSE returns the second operand unless a < b (NaNs included)
            Mnemonic.Maxsd => a > b ? a : b,
            _ => Math.Sqrt(b),
        };
        WriteXmm(i.Op0Register, d.WithElement(0, BitConverter.DoubleToUInt64Bits(r)));
    }

    private void ScalarSingle(ref Instruction i)
    {
        var d = ReadXmm(i.Op0Register);
        float a = BitConverter.UInt32BitsToSingle((uint)d.GetElement(0));
        float b = BitConverter.UInt32BitsToSingle((uint)ReadXmmOperand(ref i, 1, 4).GetElement(0));
        float r = i.Mnemonic switch
        {
            Mnemonic.Addss => a + b,
            Mnemonic.Subss => a - b,
            Mnemonic.Mulss => a * b,
            Mnemonic.Divss => a / b,
            Mnemonic.Minss => a < b ? a : b,
            Mnemonic.Maxss => a > b ? a : b,
            _ => MathF.Sqrt(b),
        };
        WriteXmm(i.Op0Register, d.WithElement(0, (d.GetElement(0) & ~0xFFFF_FFFFUL) | BitConverter.SingleToUInt32Bits(r)));
    }

    private void CompareScalar(ref Instruction i)
    {
        bool single = i.Mnemonic is Mnemonic.Ucomiss or Mnemonic.Comiss;
        double a = single ? BitConverter.UInt32BitsToSingle((uint)ReadXmm(i.Op0Register).GetElement(0)) : BitConverter.UInt64BitsToDouble(ReadXmm(i.Op0Register).GetElement(0));
        ulong raw = ReadXmmOperand(ref i, 1, single ? 4 : 8).GetElement(0);
        double b = single ? BitConverter.UInt32BitsToSingle((uint)raw) : BitConverter.UInt64BitsToDouble(raw);
        ulong f = double.IsNaN(a) || double.IsNaN(b) ? FlagZf | FlagPf | FlagCf : a < b ? FlagCf : a == b ? FlagZf : 0;
        State.Rflags = (State.Rflags & ~ArithmeticFlags) | f;
    }

    private void Convert(ref Instruction i)
    {
        switch (i.Mnemonic)
        {
            case Mnemonic.Cvtsi2sd or Mnemonic.Cvtsi2ss:
            {
                int size = OpSize(i, 1);
                long v = (long)SignExtend(ReadOp(i, 1, size), size);
                var d = ReadXmm(i.Op0Register);
                WriteXmm(i.Op0Register, i.Mnemonic == Mnemonic.Cvtsi2sd
                    ? d.WithElement(0, BitConverter.DoubleToUInt64Bits(v))
                    : d.WithElement(0, (d.GetElement(0) & ~0xFFFF_FFFFUL) | BitConverter.SingleToUInt32Bits(v)));
                return;
            }

            case Mnemonic.Cvtsd2ss or Mnemonic.Cvtss2sd:
            {
                var d = ReadXmm(i.Op0Register);
                if (i.Mnemonic == Mnemonic.Cvtsd2ss)
                {
                    float f = (float)BitConverter.UInt64BitsToDouble(ReadXmmOperand(ref i, 1, 8).GetElement(0));
                    WriteXmm(i.Op0Register, d.WithElement(0, (d.GetElement(0) & ~0xFFFF_FFFFUL) | BitConverter.SingleToUInt32Bits(f)));
                }
                else
                {
                    double x = BitConverter.UInt32BitsToSingle((uint)ReadXmmOperand(ref i, 1, 4).GetElement(0));
                    WriteXmm(i.Op0Register, d.WithElement(0, BitConverter.DoubleToUInt64Bits(x)));
                }

                return;
            }

            default:
            {
                bool single = i.Mnemonic is Mnemonic.Cvttss2si or Mnemonic.Cvtss2si;
                bool truncate = i.Mnemonic is Mnemonic.Cvttsd2si or Mnemonic.Cvttss2si;
                ulong raw = ReadXmmOperand(ref i, 1, single ? 4 : 8).GetElement(0);
                double x = single ? BitConverter.UInt32BitsToSingle((uint)raw) : BitConverter.UInt64BitsToDouble(raw);
                int size = Registers.Size[(int)i.Op0Register];
                x = truncate ? Math.Truncate(x) : Math.Round(x, MidpointRounding.ToEven);
                double limit = size == 8 ? 9223372036854775808.0 : 2147483648.0;
                // Out of range or NaN gives the "integer indefinite" value, the most negative integer.
                ulong result = double.IsNaN(x) || x >= limit || x < -limit ? SignBit(size) : (ulong)(long)x & Mask(size);
                WriteReg(i.Op0Register, result);
                return;
            }
        }
    }

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
