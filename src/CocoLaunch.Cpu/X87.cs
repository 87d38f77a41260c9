using Iced.Intel;
using static CocoLaunch.Cpu.CpuState;

namespace CocoLaunch.Cpu;

/// <summary>
/// The x87 FPU's data instructions (SDM vol. 1 ch. 8): the register stack (TOP in the status word, a tag per
/// physical register), loads and stores of integers and binary32/64/80, the four operations with their reversed and
/// popping forms, compares into C0/C2/C3 or EFLAGS, FCMOVcc and the stack housekeeping. Exceptions are handled as
/// masked (the state UEFI and Linux run with): the flag is set and the default result delivered. Firmware built
/// without SSE math (edk2's OpenSSL) needs these.
/// </summary>
public sealed partial class X86Cpu
{
    private const ushort StatusC0 = 1 << 8, StatusC1 = 1 << 9, StatusC2 = 1 << 10, StatusC3 = 1 << 14, StatusTop = 7 << 11;
    private const ushort InvalidFlag = 1, ZeroDivideFlag = 1 << 2, StackFaultFlag = 1 << 6;

    private int FpuTop
    {
        get => (State.FpuStatus >> 11) & 7;
        set => State.FpuStatus = (ushort)((State.FpuStatus & ~StatusTop) | ((value & 7) << 11));
    }

    private int Precision => ((State.FpuControl >> 8) & 3) switch { 0 => 24, 2 => 53, _ => 64 };

    private int RoundingControl => (State.FpuControl >> 10) & 3;

    private bool IsEmpty(int physical) => ((State.FpuTag >> (2 * physical)) & 3) == 3;

    private void SetTag(int physical, Float80? value)
    {
        int tag = value is not { } v ? 3 : v.IsZero ? 1 : v.IsNaN || v.IsInfinity || v.Exponent == 0 ? 2 : 0;
        State.FpuTag = (ushort)((State.FpuTag & ~(3 << (2 * physical))) | (tag << (2 * physical)));
    }

    private Float80 St(int i)
    {
        int physical = (FpuTop + i) & 7;
        if (IsEmpty(physical))
        {
            State.FpuStatus |= InvalidFlag | StackFaultFlag; // stack underflow: C1 clear
            State.FpuStatus &= unchecked((ushort)~StatusC1);
            return Float80.Indefinite;
        }

        return State.Fpr[physical];
    }

    private void SetSt(int i, Float80 value)
    {
        int physical = (FpuTop + i) & 7;
        State.Fpr[physical] = value;
        SetTag(physical, value);
    }

    private void Push(Float80 value)
    {
        int top = (FpuTop - 1) & 7;
        if (!IsEmpty(top))
        {
            State.FpuStatus |= InvalidFlag | StackFaultFlag | StatusC1; // stack overflow
            value = Float80.Indefinite;
        }

        FpuTop = top;
        SetSt(0, value);
    }

    private void Pop()
    {
        SetTag(FpuTop, null);
        FpuTop++;
    }

    private static int StIndex(Register r) => r - Register.ST0;

    private Float80 LoadMemory(in Instruction i)
    {
        var seg = SegOf(i.MemorySegment);
        ulong ea = EffectiveAddress(i);
        return i.MemorySize switch
        {
            MemorySize.Float32 => Float80.FromSingle((uint)Read(seg, ea, 4)),
            MemorySize.Float64 => Float80.FromDouble(Read(seg, ea, 8)),
            MemorySize.Float80 => new Float80(Read(seg, ea, 8), (ushort)Read(seg, ea + 8, 2)),
            MemorySize.Int16 => Float80.FromInt64((short)Read(seg, ea, 2)),
            MemorySize.Int32 => Float80.FromInt64((int)Read(seg, ea, 4)),
            MemorySize.Int64 => Float80.FromInt64((long)Read(seg, ea, 8)),
            _ => throw GuestFault.Ud(),
        };
    }

    private void StoreMemory(in Instruction i, Float80 value, bool truncate = false)
    {
        var seg = SegOf(i.MemorySegment);
        ulong ea = EffectiveAddress(i);
        int rc = truncate ? 3 : RoundingControl;
        switch (i.MemorySize)
        {
            case MemorySize.Float32:
                Write(seg, ea, 4, value.ToBinary(23, 8, rc));
                break;
            case MemorySize.Float64:
                Write(seg, ea, 8, value.ToBinary(52, 11, rc));
                break;
            case MemorySize.Float80:
                Write(seg, ea, 8, value.Significand);
                Write(seg, ea + 8, 2, value.SignExponent);
                break;
            case MemorySize.Int16 or MemorySize.Int32 or MemorySize.Int64:
                int bytes = i.MemorySize.GetSize();
                long? integer = value.ToInteger(8 * bytes, rc);
                if (integer is null)
                {
                    State.FpuStatus |= InvalidFlag; // the integer indefinite: the sign bit alone
                }

                Write(seg, ea, bytes, integer is { } n ? (ulong)n : 1UL << ((8 * bytes) - 1));
                break;
            default:
                throw GuestFault.Ud();
        }
    }

    private bool ExecuteX87(ref Instruction i)
    {
        switch (i.Mnemonic)
        {
            case Mnemonic.Fld:
                Push(i.Op0Kind == OpKind.Memory ? LoadMemory(i) : St(StIndex(i.Op0Register)));
                return true;
            case Mnemonic.Fild:
                Push(LoadMemory(i));
                return true;
            case Mnemonic.Fldz:
                Push(Float80.Zero);
                return true;
            case Mnemonic.Fld1:
                Push(Float80.One);
                return true;
            case Mnemonic.Fst or Mnemonic.Fstp or Mnemonic.Fist or Mnemonic.Fistp or Mnemonic.Fisttp:
                if (i.Op0Kind == OpKind.Memory)
                {
                    StoreMemory(i, St(0), truncate: i.Mnemonic == Mnemonic.Fisttp);
                }
                else
                {
                    SetSt(StIndex(i.Op0Register), St(0));
                }

                if (i.Mnemonic is Mnemonic.Fstp or Mnemonic.Fistp or Mnemonic.Fisttp)
                {
                    Pop();
                }

                return true;
            case Mnemonic.Fxch:
            {
                int other = i.OpCount == 2 ? StIndex(i.Op1Register) : i.OpCount == 1 ? StIndex(i.Op0Register) : 1;
                var (a, b) = (St(0), St(other));
                SetSt(0, b);
                SetSt(other, a);
                return true;
            }

            case Mnemonic.Fchs:
                SetSt(0, St(0).Negate());
                return true;
            case Mnemonic.Fabs:
                SetSt(0, St(0).Abs());
                return true;
            case Mnemonic.Fadd or Mnemonic.Faddp or Mnemonic.Fiadd or Mnemonic.Fsub or Mnemonic.Fsubp or Mnemonic.Fisub
                or Mnemonic.Fsubr or Mnemonic.Fsubrp or Mnemonic.Fisubr or Mnemonic.Fmul or Mnemonic.Fmulp or Mnemonic.Fimul
                or Mnemonic.Fdiv or Mnemonic.Fdivp or Mnemonic.Fidiv or Mnemonic.Fdivr or Mnemonic.Fdivrp or Mnemonic.Fidivr:
                Arithmetic(ref i);
                return true;
            case Mnemonic.Fcomi or Mnemonic.Fcomip or Mnemonic.Fucomi or Mnemonic.Fucomip:
            {
                int? order = Float80.Compare(St(0), St(StIndex(i.OpCount == 2 ? i.Op1Register : i.Op0Register)));
                State.Rflags &= ~(FlagZf | FlagPf | FlagCf | FlagOf | FlagSf | FlagAf);
                State.Rflags |= order switch { null => FlagZf | FlagPf | FlagCf, < 0 => FlagCf, 0 => FlagZf, _ => 0 };
                if (i.Mnemonic is Mnemonic.Fcomip or Mnemonic.Fucomip)
                {
                    Pop();
                }

                return true;
            }

            case Mnemonic.Fcom or Mnemonic.Fcomp or Mnemonic.Fucom or Mnemonic.Fucomp or Mnemonic.Fcompp or Mnemonic.Fucompp or Mnemonic.Ftst
                or Mnemonic.Ficom or Mnemonic.Ficomp:
            {
                var other = i.Mnemonic == Mnemonic.Ftst ? Float80.Zero
                    : i.Op0Kind == OpKind.Memory ? LoadMemory(i)
                    : i.OpCount == 2 ? St(StIndex(i.Op1Register))
                    : i.OpCount == 1 ? St(StIndex(i.Op0Register)) : St(1);
                int? order = Float80.Compare(St(0), other);
                State.FpuStatus &= unchecked((ushort)~(StatusC0 | StatusC1 | StatusC2 | StatusC3));
                State.FpuStatus |= order switch { null => StatusC0 | StatusC2 | StatusC3, < 0 => StatusC0, 0 => StatusC3, _ => 0 };
                if (i.Mnemonic is Mnemonic.Fcomp or Mnemonic.Fucomp or Mnemonic.Ficomp or Mnemonic.Fcompp or Mnemonic.Fucompp)
                {
                    Pop();
                }

                if (i.Mnemonic is Mnemonic.Fcompp or Mnemonic.Fucompp)
                {
                    Pop();
                }

                return true;
            }

            case Mnemonic.Fcmovb or Mnemonic.Fcmove or Mnemonic.Fcmovbe or Mnemonic.Fcmovu or Mnemonic.Fcmovnb or Mnemonic.Fcmovne
                or Mnemonic.Fcmovnbe or Mnemonic.Fcmovnu:
            {
                ulong f = State.Rflags;
                bool cf = (f & FlagCf) != 0, zf = (f & FlagZf) != 0, pf = (f & FlagPf) != 0;
                bool move = i.Mnemonic switch
                {
                    Mnemonic.Fcmovb => cf,
                    Mnemonic.Fcmove => zf,
                    Mnemonic.Fcmovbe => cf || zf,
                    Mnemonic.Fcmovu => pf,
                    Mnemonic.Fcmovnb => !cf,
                    Mnemonic.Fcmovne => !zf,
                    Mnemonic.Fcmovnbe => !cf && !zf,
                    _ => !pf,
                };
                if (move)
                {
                    SetSt(0, St(StIndex(i.Op1Register)));
                }

                return true;
            }

            case Mnemonic.Ffree:
                SetTag((FpuTop + StIndex(i.Op0Register)) & 7, null);
                return true;
            case Mnemonic.Fincstp:
                FpuTop++;
                return true;
            case Mnemonic.Fdecstp:
                FpuTop--;
                return true;
            case Mnemonic.Fnop:
                return true;
            default:
                return false;
        }
    }

    /// <summary>
    /// The four operations: a memory operand (real or integer) with ST(0), or ST(0) with ST(i) into either; the R forms
    /// swap the operands, the P forms pop after writing ST(i).
    /// </summary>
    private void Arithmetic(ref Instruction i)
    {
        Float80 source;
        int destination;
        if (i.Op0Kind == OpKind.Memory)
        {
            source = LoadMemory(i);
            destination = 0;
        }
        else if (i.OpCount == 2)
        {
            destination = StIndex(i.Op0Register);
            source = St(StIndex(i.Op1Register));
        }
        else
        {
            destination = 1; // FADDP with no operands is FADDP ST(1), ST(0)
            source = St(0);
        }

        var target = St(destination);
        bool reversed = i.Mnemonic is Mnemonic.Fsubr or Mnemonic.Fsubrp or Mnemonic.Fisubr or Mnemonic.Fdivr or Mnemonic.Fdivrp or Mnemonic.Fidivr;
        var (a, b) = reversed ? (source, target) : (target, source);
        int p = Precision, rc = RoundingControl;
        Float80 result = i.Mnemonic switch
        {
            Mnemonic.Fadd or Mnemonic.Faddp or Mnemonic.Fiadd => Float80.Add(a, b, p, rc),
            Mnemonic.Fsub or Mnemonic.Fsubp or Mnemonic.Fisub or Mnemonic.Fsubr or Mnemonic.Fsubrp or Mnemonic.Fisubr => Float80.Add(a, b.IsNaN ? b : b.Negate(), p, rc),
            Mnemonic.Fmul or Mnemonic.Fmulp or Mnemonic.Fimul => Float80.Multiply(a, b, p, rc),
            _ => Float80.Divide(a, b, p, rc),
        };
        if (result.IsNaN && !a.IsNaN && !b.IsNaN)
        {
            State.FpuStatus |= InvalidFlag;
        }
        else if (result.IsInfinity && !a.IsInfinity && b.IsZero && i.Mnemonic is not (Mnemonic.Fadd or Mnemonic.Faddp or Mnemonic.Fiadd or Mnemonic.Fmul or Mnemonic.Fmulp or Mnemonic.Fimul))
        {
            State.FpuStatus |= ZeroDivideFlag;
        }

        SetSt(destination, result);
        if (i.Mnemonic is Mnemonic.Faddp or Mnemonic.Fsubp or Mnemonic.Fsubrp or Mnemonic.Fmulp or Mnemonic.Fdivp or Mnemonic.Fdivrp)
        {
            Pop();
        }
    }
}
