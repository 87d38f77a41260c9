using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Iced.Intel;
using static CocoLaunch.Cpu.CpuState;

namespace CocoLaunch.Cpu;

/// <summary>
/// The SSE/SSE2 subset gcc emits by default (cpu-emulator.md §3.1): moves, logic, integer lanes, shuffles and
/// unpacks, compares, and scalar double/single arithmetic and conversions. The lane operations are in SseLanes and
/// SseScalar, shared with compiled blocks (Jit/BlockCompiler.Sse.cs).
/// </summary>
public sealed partial class X86Cpu
{
    private bool ExecuteSse(ref Instruction i) => IsSse(i) && ExecuteSseForm(ref i);

    /// <summary>An instruction already known to be one of the SSE forms (<see cref="IsSse"/> depends on its Code alone).</summary>
    private bool ExecuteSseForm(ref Instruction i)
    {
        RequireSse();
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
            case Mnemonic.Pshufd:
                WriteXmm(i.Op0Register, SseLanes.Pshufd(ReadXmmOperand(ref i, 1, 16, aligned: true), i.Immediate8));
                return true;
            case Mnemonic.Shufps:
            {
                var b = ReadXmmOperand(ref i, 1, 16, aligned: true);
                WriteXmm(i.Op0Register, SseLanes.Shufps(ReadXmm(i.Op0Register), b, i.Immediate8));
                return true;
            }

            case Mnemonic.Shufpd:
            {
                var b = ReadXmmOperand(ref i, 1, 16, aligned: true);
                WriteXmm(i.Op0Register, SseLanes.Shufpd(ReadXmm(i.Op0Register), b, i.Immediate8));
                return true;
            }

            // Register-to-register only: one half of the source into the other half of the destination.
            case Mnemonic.Movhlps: WriteXmm(i.Op0Register, SseLanes.Movhlps(ReadXmm(i.Op0Register), ReadXmm(i.Op1Register))); return true;
            case Mnemonic.Movlhps: WriteXmm(i.Op0Register, SseLanes.Movlhps(ReadXmm(i.Op0Register), ReadXmm(i.Op1Register))); return true;
            case Mnemonic.Pmovmskb: WriteReg(i.Op0Register, SseLanes.Pmovmskb(ReadXmm(i.Op1Register))); return true;
            case Mnemonic.Movmskps: WriteReg(i.Op0Register, SseLanes.Movmskps(ReadXmm(i.Op1Register))); return true;
            case Mnemonic.Movmskpd: WriteReg(i.Op0Register, SseLanes.Movmskpd(ReadXmm(i.Op1Register))); return true;
            case Mnemonic.Psrldq: WriteXmm(i.Op0Register, SseLanes.Psrldq(ReadXmm(i.Op0Register), i.Immediate8)); return true;
            case Mnemonic.Pslldq: WriteXmm(i.Op0Register, SseLanes.Pslldq(ReadXmm(i.Op0Register), i.Immediate8)); return true;
            case Mnemonic.Ucomisd or Mnemonic.Comisd or Mnemonic.Ucomiss or Mnemonic.Comiss:
            {
                bool single = i.Mnemonic is Mnemonic.Ucomiss or Mnemonic.Comiss;
                ulong a = ReadXmm(i.Op0Register).GetElement(0);
                ulong b = ReadXmmOperand(ref i, 1, single ? 4 : 8).GetElement(0);
                State.Rflags = (State.Rflags & ~ArithmeticFlags) | SseScalar.CompareFlags(a, b, single);
                return true;
            }

            case Mnemonic.Cvtsi2sd or Mnemonic.Cvtsi2ss:
            {
                int size = OpSize(i, 1);
                ulong v = SignExtend(ReadOp(i, 1, size), size);
                var d = ReadXmm(i.Op0Register);
                WriteXmm(i.Op0Register, i.Mnemonic == Mnemonic.Cvtsi2sd ? SseScalar.Cvtsi2sd(d, v) : SseScalar.Cvtsi2ss(d, v));
                return true;
            }

            case Mnemonic.Cvttsd2si or Mnemonic.Cvtsd2si or Mnemonic.Cvttss2si or Mnemonic.Cvtss2si:
            {
                bool single = i.Mnemonic is Mnemonic.Cvttss2si or Mnemonic.Cvtss2si;
                ulong raw = ReadXmmOperand(ref i, 1, single ? 4 : 8).GetElement(0);
                bool truncate = i.Mnemonic is Mnemonic.Cvttsd2si or Mnemonic.Cvttss2si;
                WriteReg(i.Op0Register, SseScalar.ToInteger(raw, single, truncate, Registers.Size[(int)i.Op0Register]));
                return true;
            }

            case Mnemonic.Ldmxcsr: State.Mxcsr = (uint)ReadOp(i, 0, 4); return true;
            case Mnemonic.Stmxcsr: WriteOp(i, 0, 4, State.Mxcsr); return true;
            case Mnemonic.Fxsave or Mnemonic.Fxsave64: Fxsave(ref i); return true;
            case Mnemonic.Fxrstor or Mnemonic.Fxrstor64: Fxrstor(ref i); return true;
            default:
                return ExecuteSseLanes(ref i);
        }
    }

    /// <summary>The forms that combine the destination with a source lane by lane (SseLanes, SseScalar).</summary>
    private bool ExecuteSseLanes(ref Instruction i)
    {
        if (SseLanes.Binary(i.Mnemonic) is { } binary)
        {
            // Legacy-SSE m128 operands must be 16-byte aligned except for the explicitly unaligned moves.
            var b = ReadXmmOperand(ref i, 1, 16, aligned: true);
            WriteXmm(i.Op0Register, binary(ReadXmm(i.Op0Register), b));
            return true;
        }

        if (SseLanes.Shift(i.Mnemonic) is { } shift)
        {
            ulong count = i.Op1Kind == OpKind.Immediate8 ? i.Immediate8 : ReadXmmOperand(ref i, 1, 16, aligned: true).GetElement(0);
            WriteXmm(i.Op0Register, shift(ReadXmm(i.Op0Register), count));
            return true;
        }

        if (SseScalar.Arithmetic(i.Mnemonic, out int size) is { } scalar)
        {
            ulong b = ReadXmmOperand(ref i, 1, size).GetElement(0);
            WriteXmm(i.Op0Register, scalar(ReadXmm(i.Op0Register), b));
            return true;
        }

        return false;
    }

    /// <summary>#UD while CR0.EM is set or CR4.OSFXSR clear, else #NM while CR0.TS is set; compiled blocks check it too.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void RequireSse()
    {
        if (((State.Cr0 & (Cr0Em | Cr0Ts)) | (~State.Cr4 & Cr4OsFxsr)) != 0)
        {
            SseUnavailable();
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void SseUnavailable()
    {
        if ((State.Cr0 & Cr0Em) != 0 || (State.Cr4 & Cr4OsFxsr) == 0)
        {
            throw GuestFault.Ud();
        }

        throw new GuestFault(Vector.DeviceNotAvailable);
    }

    internal static bool IsSse(in Instruction i)
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
        return size == 16 ? ReadXmmMemory(seg, ea, aligned) : Vector128.Create(Read(seg, ea, size), 0UL);
    }

    /// <summary>An m128 operand, read as two quadwords; the aligned forms #GP(0) unless its linear address is 16-byte aligned.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal Vector128<ulong> ReadXmmMemory(SegmentName seg, ulong ea, bool aligned)
    {
        if (aligned)
        {
            RequireAligned16(seg, ea);
        }

        return Vector128.Create(Read(seg, ea, 8), Read(seg, ea + 8, 8));
    }

    /// <summary>An m128 store, as two quadwords: the second can fault after the first is written.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void WriteXmmMemory(SegmentName seg, ulong ea, bool aligned, Vector128<ulong> v)
    {
        if (aligned)
        {
            RequireAligned16(seg, ea);
        }

        Write(seg, ea, 8, v.GetElement(0));
        Write(seg, ea + 8, 8, v.GetElement(1));
    }

    private void RequireAligned16(SegmentName seg, ulong ea)
    {
        if ((Linear(seg, ea, 16) & 15) != 0)
        {
            throw GuestFault.Gp();
        }
    }

    private void MoveVector(ref Instruction i, bool aligned)
    {
        if (i.Op0Kind == OpKind.Memory)
        {
            WriteXmmMemory(SegOf(i.MemorySegment), EffectiveAddress(i), aligned, ReadXmm(i.Op1Register));
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
}
