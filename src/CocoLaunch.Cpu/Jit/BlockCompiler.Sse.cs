using System.Reflection;
using System.Reflection.Emit;
using System.Runtime.Intrinsics;
using Iced.Intel;

namespace CocoLaunch.Cpu.Jit;

/// <summary>
/// The SSE/SSE2 forms: each calls the lane operation the interpreter calls (SseLanes, SseScalar) on XMM registers
/// read and written in place through a byref to <see cref="CpuState.Xmm"/>, and reaches memory through the
/// interpreter's own m128 and scalar accessors, so alignment, limit and page faults come out the same. The
/// CR0/CR4 test that makes SSE #UD or #NM runs once per stretch of compiled code: only an instruction left to the
/// interpreter can change its outcome.
/// </summary>
internal sealed partial class BlockCompiler
{
    private static readonly FieldInfo XmmField = typeof(CpuState).GetField(nameof(CpuState.Xmm))!;
    private static readonly MethodInfo RequireSse = typeof(X86Cpu).GetMethod(nameof(X86Cpu.RequireSse), Any)!;
    private static readonly MethodInfo ReadXmmMemory = typeof(X86Cpu).GetMethod(nameof(X86Cpu.ReadXmmMemory), Any)!;
    private static readonly MethodInfo WriteXmmMemory = typeof(X86Cpu).GetMethod(nameof(X86Cpu.WriteXmmMemory), Any)!;
    private static readonly MethodInfo LoadLanes = Lanes(nameof(SseLanes.Load));
    private static readonly MethodInfo StoreLanes = Lanes(nameof(SseLanes.Store));
    private static readonly MethodInfo LowQuadword = Lanes(nameof(SseLanes.Low));

    private LocalBuilder? xmm, vb, vr;

    private static MethodInfo Lanes(string name) => typeof(SseLanes).GetMethod(name)!;

    private static MethodInfo Scalar(string name) => typeof(SseScalar).GetMethod(name)!;

    /// <summary>Whether the SSE form is compiled: every one the interpreter executes but the MXCSR and FXSAVE state forms.</summary>
    private static bool IsCompiledSse(in Instruction i)
    {
        var m = i.Mnemonic;
        return X86Cpu.IsSse(i) && (SseLanes.Binary(m) is not null || SseLanes.Shift(m) is not null || SseScalar.Arithmetic(m, out _) is not null
            || m is Mnemonic.Movdqa or Mnemonic.Movaps or Mnemonic.Movapd or Mnemonic.Movdqu or Mnemonic.Movups or Mnemonic.Movupd
                or Mnemonic.Movd or Mnemonic.Movq or Mnemonic.Movss or Mnemonic.Movsd or Mnemonic.Movhps or Mnemonic.Movhpd
                or Mnemonic.Movlps or Mnemonic.Movlpd or Mnemonic.Pshufd or Mnemonic.Shufps or Mnemonic.Shufpd or Mnemonic.Movhlps
                or Mnemonic.Movlhps or Mnemonic.Pmovmskb or Mnemonic.Movmskps or Mnemonic.Movmskpd or Mnemonic.Psrldq or Mnemonic.Pslldq
                or Mnemonic.Ucomisd or Mnemonic.Comisd or Mnemonic.Ucomiss or Mnemonic.Comiss or Mnemonic.Cvtsi2sd or Mnemonic.Cvtsi2ss
                or Mnemonic.Cvttsd2si or Mnemonic.Cvtsd2si or Mnemonic.Cvttss2si or Mnemonic.Cvtss2si);
    }

    /// <summary>
    /// Marks the compiled SSE forms that must test CR0/CR4 first: the first of the block and the first after each
    /// instruction the interpreter runs. Today MOV to CR0/CR4 and LMSW end the block and CLTS can only make SSE
    /// usable, so the first test would do; testing again costs little next to an interpreted instruction, and
    /// keeps this right if an interpreted form comes to change CR0 or CR4 without ending the block.
    /// </summary>
    private static void PlanSseChecks(InstructionPlan[] plans)
    {
        bool usable = false;
        for (int k = 0; k < plans.Length; k++)
        {
            if (plans[k] == InstructionPlan.Sse && !usable)
            {
                plans[k] = InstructionPlan.SseChecked;
            }

            usable = plans[k] is InstructionPlan.Sse or InstructionPlan.SseChecked || (usable && plans[k] != InstructionPlan.Interpret);
        }
    }

    private void LoadXmmBase()
    {
        xmm = il.DeclareLocal(typeof(ulong).MakeByRefType());
        vb = il.DeclareLocal(typeof(Vector128<ulong>));
        vr = il.DeclareLocal(typeof(Vector128<ulong>));
        il.Emit(OpCodes.Ldloc, state);
        il.Emit(OpCodes.Ldfld, XmmField);
        il.Emit(OpCodes.Call, ArrayData);
        il.Emit(OpCodes.Stloc, xmm);
    }

    private void EmitSse(in Instruction i, int k, bool check)
    {
        if (check)
        {
            il.Emit(OpCodes.Ldarg_1);
            il.Emit(OpCodes.Call, RequireSse);
        }

        var m = i.Mnemonic;
        if (SseLanes.Binary(m) is { } binary)
        {
            // Legacy-SSE m128 operands must be 16-byte aligned, as in the interpreter.
            LoadXmmSource(i, aligned: true);
            LoadXmm(i.Op0Register);
            il.Emit(OpCodes.Ldloc, vb!);
            il.Emit(OpCodes.Call, binary.Method);
            StoreXmm(i.Op0Register);
            return;
        }

        if (SseLanes.Shift(m) is { } shift)
        {
            if (i.Op1Kind == OpKind.Immediate8)
            {
                Const((ulong)i.Immediate8);
            }
            else
            {
                LoadXmmSource(i, aligned: true);
                il.Emit(OpCodes.Ldloc, vb!);
                il.Emit(OpCodes.Call, LowQuadword);
            }

            il.Emit(OpCodes.Stloc, value);
            LoadXmm(i.Op0Register);
            il.Emit(OpCodes.Ldloc, value);
            il.Emit(OpCodes.Call, shift.Method);
            StoreXmm(i.Op0Register);
            return;
        }

        if (SseScalar.Arithmetic(m, out int size) is { } scalar)
        {
            LoadScalarSource(i, size);
            il.Emit(OpCodes.Stloc, value);
            LoadXmm(i.Op0Register);
            il.Emit(OpCodes.Ldloc, value);
            il.Emit(OpCodes.Call, scalar.Method);
            StoreXmm(i.Op0Register);
            return;
        }

        EmitSseForm(i, k);
    }

    private void EmitSseForm(in Instruction i, int k)
    {
        var m = i.Mnemonic;
        switch (m)
        {
            case Mnemonic.Movdqa or Mnemonic.Movaps or Mnemonic.Movapd or Mnemonic.Movdqu or Mnemonic.Movups or Mnemonic.Movupd:
                EmitMoveVector(i, k, aligned: m is Mnemonic.Movdqa or Mnemonic.Movaps or Mnemonic.Movapd);
                break;
            case Mnemonic.Movd or Mnemonic.Movq: EmitMoveScalarInteger(i, k, m == Mnemonic.Movd ? 4 : 8); break;
            case Mnemonic.Movss or Mnemonic.Movsd: EmitMoveScalarFloat(i, k, m == Mnemonic.Movss ? 4 : 8); break;
            case Mnemonic.Movhps or Mnemonic.Movhpd or Mnemonic.Movlps or Mnemonic.Movlpd: EmitMoveHalf(i, k, high: m is Mnemonic.Movhps or Mnemonic.Movhpd); break;
            case Mnemonic.Pshufd:
                LoadXmmSource(i, aligned: true);
                il.Emit(OpCodes.Ldloc, vb!);
                Const((int)i.Immediate8);
                il.Emit(OpCodes.Call, Lanes(nameof(SseLanes.Pshufd)));
                StoreXmm(i.Op0Register);
                break;
            case Mnemonic.Shufps or Mnemonic.Shufpd:
                LoadXmmSource(i, aligned: true);
                LoadXmm(i.Op0Register);
                il.Emit(OpCodes.Ldloc, vb!);
                Const((int)i.Immediate8);
                il.Emit(OpCodes.Call, Lanes(m == Mnemonic.Shufps ? nameof(SseLanes.Shufps) : nameof(SseLanes.Shufpd)));
                StoreXmm(i.Op0Register);
                break;
            case Mnemonic.Movhlps or Mnemonic.Movlhps:
                LoadXmm(i.Op0Register);
                LoadXmm(i.Op1Register);
                il.Emit(OpCodes.Call, Lanes(m == Mnemonic.Movhlps ? nameof(SseLanes.Movhlps) : nameof(SseLanes.Movlhps)));
                StoreXmm(i.Op0Register);
                break;
            case Mnemonic.Pmovmskb or Mnemonic.Movmskps or Mnemonic.Movmskpd:
                LoadXmm(i.Op1Register);
                il.Emit(OpCodes.Call, Lanes(m switch { Mnemonic.Pmovmskb => nameof(SseLanes.Pmovmskb), Mnemonic.Movmskps => nameof(SseLanes.Movmskps), _ => nameof(SseLanes.Movmskpd) }));
                il.Emit(OpCodes.Stloc, value);
                StoreRegister(i.Op0Register, value);
                break;
            case Mnemonic.Psrldq or Mnemonic.Pslldq:
                LoadXmm(i.Op0Register);
                Const((int)i.Immediate8);
                il.Emit(OpCodes.Call, Lanes(m == Mnemonic.Psrldq ? nameof(SseLanes.Psrldq) : nameof(SseLanes.Pslldq)));
                StoreXmm(i.Op0Register);
                break;
            case Mnemonic.Ucomisd or Mnemonic.Comisd or Mnemonic.Ucomiss or Mnemonic.Comiss:
            {
                bool single = m is Mnemonic.Ucomiss or Mnemonic.Comiss;
                LoadScalarSource(i, single ? 4 : 8);
                il.Emit(OpCodes.Stloc, value);
                il.Emit(OpCodes.Ldloc, state);
                il.Emit(OpCodes.Ldloc, state);
                il.Emit(OpCodes.Call, GetRflags);
                Const(~CpuState.ArithmeticFlags);
                il.Emit(OpCodes.And);
                LoadXmmQuadword(i.Op0Register, 0);
                il.Emit(OpCodes.Ldloc, value);
                Const(single ? 1 : 0);
                il.Emit(OpCodes.Call, Scalar(nameof(SseScalar.CompareFlags)));
                il.Emit(OpCodes.Or);
                il.Emit(OpCodes.Call, SetRflags);
                break;
            }

            case Mnemonic.Cvtsi2sd or Mnemonic.Cvtsi2ss:
            {
                int s = X86Cpu.OpSize(i, 1);
                LoadOperand(i, 1, s);
                SignExtend(s);
                il.Emit(OpCodes.Stloc, value);
                LoadXmm(i.Op0Register);
                il.Emit(OpCodes.Ldloc, value);
                il.Emit(OpCodes.Call, Scalar(m == Mnemonic.Cvtsi2sd ? nameof(SseScalar.Cvtsi2sd) : nameof(SseScalar.Cvtsi2ss)));
                StoreXmm(i.Op0Register);
                break;
            }

            default: // CVT(T)SD2SI, CVT(T)SS2SI
            {
                bool single = m is Mnemonic.Cvttss2si or Mnemonic.Cvtss2si;
                LoadScalarSource(i, single ? 4 : 8);
                Const(single ? 1 : 0);
                Const(m is Mnemonic.Cvttsd2si or Mnemonic.Cvttss2si ? 1 : 0);
                Const(Registers.Size[(int)i.Op0Register]);
                il.Emit(OpCodes.Call, Scalar(nameof(SseScalar.ToInteger)));
                il.Emit(OpCodes.Stloc, value);
                StoreRegister(i.Op0Register, value);
                break;
            }
        }
    }

    private void EmitMoveVector(in Instruction i, int k, bool aligned)
    {
        if (i.Op0Kind != OpKind.Memory)
        {
            LoadXmmSource(i, aligned);
            il.Emit(OpCodes.Ldloc, vb!);
            StoreXmm(i.Op0Register);
            return;
        }

        il.Emit(OpCodes.Ldarg_1);
        Const((int)Registers.Segment(i.MemorySegment));
        il.Emit(OpCodes.Ldloc, ea);
        Const(aligned ? 1 : 0);
        LoadXmm(i.Op1Register);
        il.Emit(OpCodes.Call, WriteXmmMemory);
        ExitIfWriteStops(k, i);
    }

    /// <summary>MOVD/MOVQ: into XMM they zero the rest of the register; out of it, the low dword or quadword.</summary>
    private void EmitMoveScalarInteger(in Instruction i, int k, int size)
    {
        if (i.Op0Kind == OpKind.Register && i.Op0Register.IsXMM())
        {
            if (i.Op1Kind == OpKind.Register && i.Op1Register.IsXMM())
            {
                LoadXmmQuadword(i.Op1Register, 0);
            }
            else
            {
                LoadOperand(i, 1, size);
            }

            Truncate(size);
            il.Emit(OpCodes.Stloc, value);
            StoreXmmQuadwords(i.Op0Register, value, zeroHigh: true);
            return;
        }

        LoadXmmQuadword(i.Op1Register, 0);
        Truncate(size);
        il.Emit(OpCodes.Stloc, value);
        StoreOperand(i, 0, size, value, k);
    }

    /// <summary>MOVSS/MOVSD: a load zeroes the upper lanes, a register move replaces only the low 32 or 64 bits.</summary>
    private void EmitMoveScalarFloat(in Instruction i, int k, int size)
    {
        if (i.Op0Kind == OpKind.Memory)
        {
            LoadXmmQuadword(i.Op1Register, 0);
            Truncate(size);
            il.Emit(OpCodes.Stloc, value);
            WriteMemory(Registers.Segment(i.MemorySegment), size, value, k, i);
            return;
        }

        if (i.Op1Kind == OpKind.Memory)
        {
            ReadMemory(Registers.Segment(i.MemorySegment), size);
            il.Emit(OpCodes.Stloc, value);
            StoreXmmQuadwords(i.Op0Register, value, zeroHigh: true);
            return;
        }

        if (size == 8)
        {
            LoadXmmQuadword(i.Op1Register, 0);
        }
        else
        {
            LoadXmmQuadword(i.Op0Register, 0);
            Const(~0xFFFF_FFFFUL);
            il.Emit(OpCodes.And);
            LoadXmmQuadword(i.Op1Register, 0);
            Truncate(4);
            il.Emit(OpCodes.Or);
        }

        il.Emit(OpCodes.Stloc, value);
        StoreXmmQuadwords(i.Op0Register, value, zeroHigh: false);
    }

    /// <summary>MOVHPS/MOVHPD/MOVLPS/MOVLPD: one quadword between memory (or the other register's other half) and one half.</summary>
    private void EmitMoveHalf(in Instruction i, int k, bool high)
    {
        if (i.Op0Kind == OpKind.Memory)
        {
            LoadXmmQuadword(i.Op1Register, high ? 1 : 0);
            il.Emit(OpCodes.Stloc, value);
            WriteMemory(Registers.Segment(i.MemorySegment), 8, value, k, i);
            return;
        }

        if (i.Op1Kind == OpKind.Register)
        {
            LoadXmmQuadword(i.Op1Register, high ? 0 : 1);
        }
        else
        {
            ReadMemory(Registers.Segment(i.MemorySegment), 8);
        }

        il.Emit(OpCodes.Stloc, value);
        XmmAddress(i.Op0Register, high ? 8 : 0);
        il.Emit(OpCodes.Ldloc, value);
        il.Emit(OpCodes.Stind_I8);
    }

    /// <summary>Operand 1 as an XMM register or m128, into <see cref="vb"/>.</summary>
    private void LoadXmmSource(in Instruction i, bool aligned)
    {
        if (i.Op1Kind == OpKind.Register)
        {
            LoadXmm(i.Op1Register);
        }
        else
        {
            il.Emit(OpCodes.Ldarg_1);
            Const((int)Registers.Segment(i.MemorySegment));
            il.Emit(OpCodes.Ldloc, ea);
            Const(aligned ? 1 : 0);
            il.Emit(OpCodes.Call, ReadXmmMemory);
        }

        il.Emit(OpCodes.Stloc, vb!);
    }

    /// <summary>Operand 1 of a scalar form as a uint64: the register's low quadword, or <paramref name="size"/> bytes of memory.</summary>
    private void LoadScalarSource(in Instruction i, int size)
    {
        if (i.Op1Kind == OpKind.Register)
        {
            LoadXmmQuadword(i.Op1Register, 0);
        }
        else
        {
            ReadMemory(Registers.Segment(i.MemorySegment), size);
        }
    }

    private void XmmAddress(Register r, int offset)
    {
        il.Emit(OpCodes.Ldloc, xmm!);
        int at = (16 * (r - Register.XMM0)) + offset;
        if (at != 0)
        {
            Const(at);
            il.Emit(OpCodes.Add);
        }
    }

    private void LoadXmm(Register r)
    {
        XmmAddress(r, 0);
        il.Emit(OpCodes.Call, LoadLanes);
    }

    /// <summary>Stores the Vector128 on the stack into <paramref name="r"/>.</summary>
    private void StoreXmm(Register r)
    {
        il.Emit(OpCodes.Stloc, vr!);
        XmmAddress(r, 0);
        il.Emit(OpCodes.Ldloc, vr!);
        il.Emit(OpCodes.Call, StoreLanes);
    }

    private void LoadXmmQuadword(Register r, int half)
    {
        XmmAddress(r, 8 * half);
        il.Emit(OpCodes.Ldind_I8);
    }

    private void StoreXmmQuadwords(Register r, LocalBuilder low, bool zeroHigh)
    {
        XmmAddress(r, 0);
        il.Emit(OpCodes.Ldloc, low);
        il.Emit(OpCodes.Stind_I8);
        if (zeroHigh)
        {
            XmmAddress(r, 8);
            Const(0UL);
            il.Emit(OpCodes.Stind_I8);
        }
    }
}
