using System.Numerics;
using System.Runtime.CompilerServices;
using Iced.Intel;
using static CocoLaunch.Cpu.CpuState;

namespace CocoLaunch.Cpu;

/// <summary>Shifts, rotates, multiply/divide, bit tests and scans, compare-exchange, PUSH/POP.</summary>
public sealed partial class X86Cpu
{
    private void Cmpxchg(ref Instruction i)
    {
        int s = OpSize(i, 0);
        ulong dest = ReadOp(i, 0, s);
        ulong acc = State.Gpr[0] & Mask(s);
        Sub(acc, dest, 0, s);
        if (acc == dest)
        {
            WriteOp(i, 0, s, ReadOp(i, 1, s));
        }
        else
        {
            // A memory destination is written back unchanged (a locked cycle always writes); a register one is
            // left alone, so a 32-bit register keeps its upper half. The accumulator is loaded.
            if (i.Op0Kind == OpKind.Memory)
            {
                WriteOp(i, 0, s, dest);
            }

            WriteReg(s switch { 1 => Register.AL, 2 => Register.AX, 4 => Register.EAX, _ => Register.RAX }, dest);
        }
    }

    private void CmpxchgWide(ref Instruction i)
    {
        bool wide = i.Mnemonic == Mnemonic.Cmpxchg16b;
        int half = wide ? 8 : 4;
        var seg = SegOf(i.MemorySegment);
        ulong ea = EffectiveAddress(i);
        if (wide && (Linear(seg, ea, 16) & 15) != 0)
        {
            throw GuestFault.Gp();
        }

        ulong lo = Read(seg, ea, half), hi = Read(seg, ea + (ulong)half, half);
        ulong m = Mask(half);
        if (lo == (State.Gpr[0] & m) && hi == (State.Gpr[2] & m))
        {
            Write(seg, ea, half, State.Gpr[3] & m);
            Write(seg, ea + (ulong)half, half, State.Gpr[1] & m);
            State.Rflags |= FlagZf;
        }
        else
        {
            Write(seg, ea, half, lo);
            Write(seg, ea + (ulong)half, half, hi);
            WriteReg(wide ? Register.RAX : Register.EAX, lo);
            WriteReg(wide ? Register.RDX : Register.EDX, hi);
            State.Rflags &= ~FlagZf;
        }
    }

    private void Shift(ref Instruction i)
    {
        int s = OpSize(i, 0);
        ulong count = (i.Op1Kind == OpKind.Register ? State.Gpr[1] : ReadOp(i, 1, 1)) & (s == 8 ? 0x3FUL : 0x1FUL);
        if (count == 0)
        {
            // No flag changes, but a 32-bit register is still written, so its upper half is cleared.
            if (s == 4 && i.Op0Kind == OpKind.Register)
            {
                WriteReg(i.Op0Register, ReadReg(i.Op0Register));
            }

            return;
        }

        ulong v = ReadOp(i, 0, s) & Mask(s);
        if (LazyShift(i.Mnemonic) is { } op)
        {
            // SHL/SHR/SAR write every arithmetic flag: they stay pending like an ADD's, written after the store.
            ulong shifted = ShiftResult(op, v, (int)count, s);
            WriteOp(i, 0, s, shifted);
            State.SetPending(op, v, count, shifted, s);
            return;
        }

        ulong r = ShiftValue(i.Mnemonic, v, (int)count, s, out ulong f);
        WriteOp(i, 0, s, r);
        State.Rflags = f;
    }

    internal static FlagOp? LazyShift(Mnemonic m) => m switch
    {
        Mnemonic.Shl or Mnemonic.Sal => FlagOp.Shl,
        Mnemonic.Shr => FlagOp.Shr,
        Mnemonic.Sar => FlagOp.Sar,
        _ => null,
    };

    /// <summary>SHL, SHR or SAR of a masked <paramref name="v"/> by a masked, non-zero count (which may pass the width of a byte or word).</summary>
    private static ulong ShiftResult(FlagOp op, ulong v, int count, int s)
    {
        int bits = s * 8;
        return op switch
        {
            FlagOp.Shl => count >= bits ? 0 : (v << count) & Mask(s),
            FlagOp.Shr => count >= bits ? 0 : v >> count,
            _ => (ulong)((long)SignExtend(v, s) >> Math.Min(count, bits - 1)) & Mask(s),
        };
    }

    /// <summary>
    /// ROL/ROR/RCL/RCR of <paramref name="v"/> by a masked, non-zero <paramref name="count"/>: the result, and in
    /// <paramref name="f"/> the RFLAGS to commit once the destination is written (a faulting store must leave RFLAGS
    /// as it was). SHL/SHR/SAR leave their flags pending instead (<see cref="LazyShift"/>). Shared with compiled
    /// blocks for RCL/RCR.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal ulong ShiftValue(Mnemonic op, ulong v, int count, int s, out ulong f)
    {
        int bits = s * 8;
        ulong m = Mask(s), sign = SignBit(s);
        ulong r;
        f = State.Rflags;
        bool cf;
        switch (op)
        {
            case Mnemonic.Rol:
            {
                int c = (int)(count % bits);
                r = c == 0 ? v : ((v << c) | (v >> (bits - c))) & m;
                cf = (r & 1) != 0;
                f = (f & ~(FlagCf | FlagOf)) | (cf ? FlagCf : 0) | ((((r & sign) != 0) ^ cf) ? FlagOf : 0);
                break;
            }

            case Mnemonic.Ror:
            {
                int c = (int)(count % bits);
                r = c == 0 ? v : ((v >> c) | (v << (bits - c))) & m;
                cf = (r & sign) != 0;
                bool second = (r & (sign >> 1)) != 0;
                f = (f & ~(FlagCf | FlagOf)) | (cf ? FlagCf : 0) | (cf ^ second ? FlagOf : 0);
                break;
            }

            default:
            {
                // RCL/RCR rotate through CF: width + 1 bits.
                int c = (int)(count % (bits + 1));
                UInt128 wideValue = ((UInt128)((f & FlagCf) != 0 ? 1UL : 0) << bits) | v;
                UInt128 wideMask = ((UInt128)1 << (bits + 1)) - 1;
                if (c != 0)
                {
                    wideValue = op == Mnemonic.Rcl
                        ? ((wideValue << c) | (wideValue >> (bits + 1 - c))) & wideMask
                        : ((wideValue >> c) | (wideValue << (bits + 1 - c))) & wideMask;
                }

                r = (ulong)(wideValue & m);
                cf = ((wideValue >> bits) & 1) != 0;
                bool of = op == Mnemonic.Rcl ? ((r & sign) != 0) ^ cf : ((r & sign) != 0) ^ ((r & (sign >> 1)) != 0);
                f = (f & ~(FlagCf | FlagOf)) | (cf ? FlagCf : 0) | (of ? FlagOf : 0);
                break;
            }
        }

        return r;
    }

    private void DoubleShift(ref Instruction i)
    {
        int s = OpSize(i, 0);
        int bits = s * 8;
        ulong count = (i.Op2Kind == OpKind.Register ? State.Gpr[1] : i.Immediate8) & (s == 8 ? 0x3FUL : 0x1FUL);
        if (count == 0)
        {
            if (s == 4 && i.Op0Kind == OpKind.Register)
            {
                WriteReg(i.Op0Register, ReadReg(i.Op0Register));
            }

            return;
        }

        ulong m = Mask(s);
        ulong dst = ReadOp(i, 0, s) & m, src = ReadReg(i.Op1Register) & m;
        int c = (int)count;
        UInt128 r;
        bool cf;
        if (bits == 16)
        {
            // 16-bit counts 17–31 have no architectural result; AMD shifts through a 48-bit value with the
            // source repeated (dst:src:src for SHLD, src:src:dst for SHRD), and so does this model.
            UInt128 x = i.Mnemonic == Mnemonic.Shld ? ((UInt128)dst << 32) | ((UInt128)src << 16) | src : ((UInt128)src << 32) | ((UInt128)src << 16) | dst;
            r = i.Mnemonic == Mnemonic.Shld ? x >> (32 - c) : x >> c;
            // Beyond 16 the recorded AMD CF is always clear.
            cf = c <= 16 && ((i.Mnemonic == Mnemonic.Shld ? x >> (48 - c) : x >> (c - 1)) & 1) != 0;
        }
        else if (i.Mnemonic == Mnemonic.Shld)
        {
            UInt128 cat = ((UInt128)dst << bits) | src;
            r = (cat << c) >> bits;
            cf = ((cat >> ((2 * bits) - c)) & 1) != 0;
        }
        else
        {
            UInt128 cat = ((UInt128)src << bits) | dst;
            r = cat >> c;
            cf = ((cat >> (c - 1)) & 1) != 0;
        }

        ulong res = (ulong)(r & m);
        ulong f = (State.Rflags & ~ArithmeticFlags) | SzpFlags(res, s) | (cf ? FlagCf : 0)
            | (((res ^ dst) & SignBit(s)) != 0 ? FlagOf : 0);
        WriteOp(i, 0, s, res);
        State.Rflags = f;
    }

    private void Multiply(ref Instruction i)
    {
        bool signed = i.Mnemonic == Mnemonic.Imul;
        if (i.OpCount >= 2)
        {
            // IMUL r, r/m (, imm): truncated product in the register.
            int s = OpSize(i, 0);
            ulong a = i.OpCount == 3 ? ReadOp(i, 1, s) : ReadReg(i.Op0Register);
            ulong b = i.OpCount == 3 ? ReadOp(i, 2, s) : ReadOp(i, 1, s);
            WriteReg(i.Op0Register, ImulValue(a, b, s));
            return;
        }

        int size = OpSize(i, 0);
        MultiplyAccumulator(ReadOp(i, 0, size), size, signed);
    }

    /// <summary>One-operand MUL or IMUL of the accumulator by <paramref name="src"/>; shared with compiled blocks.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal void MultiplyAccumulator(ulong src, int size, bool signed)
    {
        ulong acc = State.Gpr[0] & Mask(size);
        ulong lo, hi;
        bool of;
        if (signed)
        {
            Int128 p = (Int128)(long)SignExtend(acc, size) * (long)SignExtend(src, size);
            lo = (ulong)p & Mask(size);
            hi = size == 8 ? (ulong)(p >> 64) : (ulong)(p >> (size * 8)) & Mask(size);
            of = p != (Int128)(long)SignExtend(lo, size);
        }
        else
        {
            UInt128 p = (UInt128)acc * src;
            lo = (ulong)p & Mask(size);
            hi = size == 8 ? (ulong)(p >> 64) : (ulong)(p >> (size * 8)) & Mask(size);
            of = hi != 0;
        }

        switch (size)
        {
            case 1: WriteReg(Register.AX, (hi << 8) | lo); break;
            case 2: WriteReg(Register.AX, lo); WriteReg(Register.DX, hi); break;
            case 4: WriteReg(Register.EAX, lo); WriteReg(Register.EDX, hi); break;
            default: State.Gpr[0] = lo; State.Gpr[2] = hi; break;
        }

        SetMulFlags(lo, size, of);
    }

    /// <summary>The truncated product of 2- and 3-operand IMUL, with its flags set; shared with compiled blocks.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal ulong ImulValue(ulong a, ulong b, int s)
    {
        Int128 p = (Int128)(long)SignExtend(a, s) * (long)SignExtend(b, s);
        ulong r = (ulong)p & Mask(s);
        SetMulFlags(r, s, p != (Int128)(long)SignExtend(r, s));
        return r;
    }

    // SF, ZF, AF and PF are undefined; AMD leaves them as the low half would set them (CpuState.Materialize).
    private void SetMulFlags(ulong low, int size, bool overflow) => State.SetPending(FlagOp.Mul, 0, overflow ? 1UL : 0, low & Mask(size), size);

    private void Divide(ref Instruction i)
    {
        int size = OpSize(i, 0);
        DivideAccumulator(ReadOp(i, 0, size), size, i.Mnemonic == Mnemonic.Idiv);
    }

    /// <summary>DIV or IDIV of the accumulator (and DX/EDX/RDX) by <paramref name="divisor"/>, or #DE; shared with compiled blocks.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal void DivideAccumulator(ulong divisor, int size, bool signed)
    {
        if (divisor == 0)
        {
            throw new GuestFault(Vector.DivideError);
        }

        int bits = size * 8;
        UInt128 dividend = size switch
        {
            1 => State.Gpr[0] & 0xFFFF,
            8 => ((UInt128)State.Gpr[2] << 64) | State.Gpr[0],
            _ => ((UInt128)(State.Gpr[2] & Mask(size)) << bits) | (State.Gpr[0] & Mask(size)),
        };
        ulong q, r;
        if (!signed)
        {
            UInt128 qq = dividend / divisor;
            if (qq > Mask(size))
            {
                throw new GuestFault(Vector.DivideError);
            }

            q = (ulong)qq;
            r = (ulong)(dividend % divisor);
        }
        else
        {
            Int128 sd = bits == 64 ? (Int128)dividend : ((Int128)(dividend << (128 - (2 * bits)))) >> (128 - (2 * bits));
            Int128 sv = (long)SignExtend(divisor, size);
            if (sd == Int128.MinValue && sv == -1)
            {
                throw new GuestFault(Vector.DivideError);
            }

            Int128 qq = sd / sv;
            Int128 min = -((Int128)1 << (bits - 1)), max = ((Int128)1 << (bits - 1)) - 1;
            if (qq < min || qq > max)
            {
                throw new GuestFault(Vector.DivideError);
            }

            q = (ulong)qq & Mask(size);
            r = (ulong)(sd % sv) & Mask(size);
        }

        switch (size)
        {
            case 1: WriteReg(Register.AX, (r << 8) | q); break;
            case 2: WriteReg(Register.AX, q); WriteReg(Register.DX, r); break;
            case 4: WriteReg(Register.EAX, q); WriteReg(Register.EDX, r); break;
            default: State.Gpr[0] = q; State.Gpr[2] = r; break;
        }
    }

    private void BitTest(ref Instruction i)
    {
        int s = OpSize(i, 0);
        int bits = s * 8;
        ulong bitOffset;
        ulong value;
        ulong ea = 0;
        var seg = SegmentName.Ds;
        if (i.Op0Kind == OpKind.Memory && i.Op1Kind == OpKind.Register)
        {
            // A register bit offset addresses memory beyond the operand: signed, in operand-size units.
            long offset = (long)SignExtend(ReadReg(i.Op1Register), s);
            seg = SegOf(i.MemorySegment);
            ea = EffectiveAddress(i) + (ulong)((offset >> (s == 8 ? 6 : s == 4 ? 5 : 4)) * s);
            if (bitness != 64)
            {
                ea &= 0xFFFF_FFFF;
            }

            bitOffset = (ulong)offset & (ulong)(bits - 1);
            value = Read(seg, ea, s);
        }
        else
        {
            bitOffset = ReadOp(i, 1, s) & (ulong)(bits - 1);
            value = ReadOp(i, 0, s);
            if (i.Op0Kind == OpKind.Memory)
            {
                seg = SegOf(i.MemorySegment);
                ea = EffectiveAddress(i);
            }
        }

        bool bit = ((value >> (int)bitOffset) & 1) != 0;
        ulong b = 1UL << (int)bitOffset;
        ulong updated = i.Mnemonic switch
        {
            Mnemonic.Bts => value | b,
            Mnemonic.Btr => value & ~b,
            Mnemonic.Btc => value ^ b,
            _ => value,
        };
        if (i.Mnemonic != Mnemonic.Bt)
        {
            if (i.Op0Kind == OpKind.Memory)
            {
                Write(seg, ea, s, updated);
            }
            else
            {
                WriteReg(i.Op0Register, updated);
            }
        }

        // After the write: a BTS/BTR/BTC whose store faults leaves CF as it was.
        SetCarry(bit);
    }

    /// <summary>CF alone; OF, SF, AF and PF (undefined after BT*) keep their values. Shared with compiled blocks.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal void SetCarry(bool carry) => State.Rflags = (State.Rflags & ~FlagCf) | (carry ? FlagCf : 0);

    private void BitScan(ref Instruction i)
    {
        int s = OpSize(i, 0);
        if (BitScanValue(i.Mnemonic, ReadOp(i, 1, s), s, out ulong n))
        {
            WriteReg(i.Op0Register, n);
        }
    }

    /// <summary>
    /// BSF, BSR, TZCNT, LZCNT or POPCNT of <paramref name="v"/>: sets the flags, and gives the result, or false when
    /// the destination stays unchanged (BSF/BSR of 0: AMD documents it; Intel CPUs do it). Shared with compiled blocks.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal bool BitScanValue(Mnemonic op, ulong v, int s, out ulong n)
    {
        v &= Mask(s);
        int bits = s * 8;
        ulong f = State.Rflags & ~ArithmeticFlags;
        switch (op)
        {
            case Mnemonic.Bsf or Mnemonic.Bsr:
                if (v == 0)
                {
                    State.Rflags = f | FlagZf;
                    n = 0;
                    return false;
                }

                n = op == Mnemonic.Bsf ? (ulong)BitOperations.TrailingZeroCount(v) : (ulong)(63 - BitOperations.LeadingZeroCount(v));
                State.Rflags = f;
                return true;
            case Mnemonic.Tzcnt or Mnemonic.Lzcnt:
                n = v == 0 ? (ulong)bits : op == Mnemonic.Tzcnt ? (ulong)BitOperations.TrailingZeroCount(v) : (ulong)(BitOperations.LeadingZeroCount(v) - (64 - bits));
                State.Rflags = f | (v == 0 ? FlagCf : 0) | (n == 0 ? FlagZf : 0);
                return true;
            default:
                n = (ulong)BitOperations.PopCount(v);
                State.Rflags = f | (v == 0 ? FlagZf : 0);
                return true;
        }
    }

    private void Push(ref Instruction i)
    {
        int s = i.StackPointerIncrement < 0 ? -i.StackPointerIncrement : OpSize(i, 0);
        ulong v = i.Op0Kind == OpKind.Register && i.Op0Register.IsSegmentRegister()
            ? State.Segments[(int)SegOf(i.Op0Register)].Selector
            : ReadOp(i, 0, s);
        PushSized(v, s);
    }

    private void Pop(ref Instruction i)
    {
        int s = i.StackPointerIncrement;
        if (i.Op0Kind == OpKind.Register && i.Op0Register.IsSegmentRegister())
        {
            ulong sel = PopSized(s);
            LoadSegment(SegOf(i.Op0Register), (ushort)sel);
            if (i.Op0Register == Iced.Intel.Register.SS)
            {
                BeginInterruptShadow();
            }

            EndBlock();
            return;
        }

        ulong v = PopSized(s);
        if (i.Op0Kind == OpKind.Memory)
        {
            // POP [rsp+x] computes its address with the incremented RSP.
            WriteOp(i, 0, s, v);
        }
        else
        {
            WriteReg(i.Op0Register, v);
        }
    }
}
