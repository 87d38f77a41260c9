using System.Runtime.CompilerServices;
using Iced.Intel;

namespace CocoLaunch.Cpu;

/// <summary>Operand access: registers by Iced register, effective addresses, immediates.</summary>
public sealed partial class X86Cpu
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ulong ReadReg(Register r)
    {
        int i = Registers.Index[(int)r];
        if (i < 0)
        {
            return ReadSpecialReg(r);
        }

        ulong v = State.Gpr[i];
        return Registers.Size[(int)r] switch
        {
            1 => Registers.High8[(int)r] ? (v >> 8) & 0xFF : v & 0xFF,
            2 => v & 0xFFFF,
            4 => v & 0xFFFF_FFFF,
            _ => v,
        };
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void WriteReg(Register r, ulong value)
    {
        int i = Registers.Index[(int)r];
        if (i < 0)
        {
            throw GuestFault.Ud();
        }

        ref ulong g = ref State.Gpr[i];
        switch (Registers.Size[(int)r])
        {
            case 1:
                g = Registers.High8[(int)r] ? (g & ~0xFF00UL) | ((value & 0xFF) << 8) : (g & ~0xFFUL) | (value & 0xFF);
                break;
            case 2:
                g = (g & ~0xFFFFUL) | (value & 0xFFFF);
                break;
            case 4:
                g = value & 0xFFFF_FFFF; // a 32-bit write zero-extends
                break;
            default:
                g = value;
                break;
        }
    }

    private ulong ReadSpecialReg(Register r)
    {
        if (r.IsSegmentRegister())
        {
            return State.Segments[(int)Registers.Segment(r)].Selector;
        }

        throw GuestFault.Ud();
    }

    /// <summary>The offset (before the segment base) of the instruction's memory operand, in its address size.</summary>
    internal ulong EffectiveAddress(in Instruction i)
    {
        var b = i.MemoryBase;
        if (b == Register.RIP || b == Register.EIP)
        {
            return b == Register.EIP ? i.MemoryDisplacement64 & 0xFFFF_FFFF : i.MemoryDisplacement64;
        }

        ulong ea = i.MemoryDisplacement64;
        int addressSize = 0;
        if (b != Register.None)
        {
            ea += ReadReg(b);
            addressSize = Registers.Size[(int)b];
        }

        var x = i.MemoryIndex;
        if (x != Register.None)
        {
            ea += ReadReg(x) * (ulong)i.MemoryIndexScale;
            addressSize = Registers.Size[(int)x];
        }

        if (addressSize == 0)
        {
            addressSize = i.MemoryDisplSize is 2 or 4 ? i.MemoryDisplSize : bitness / 8;
        }

        return addressSize switch
        {
            2 => ea & 0xFFFF,
            4 => ea & 0xFFFF_FFFF,
            _ => ea,
        };
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong MemoryLinear(in Instruction i, int size) => Linear(SegOf(i.MemorySegment), EffectiveAddress(i), size);

    private static SegmentName SegOf(Register r) => Registers.Segment(r);

    /// <summary>Width in bytes of operand <paramref name="n"/> (immediates take the width of operand 0).</summary>
    internal static int OpSize(in Instruction i, int n)
    {
        return i.GetOpKind(n) switch
        {
            OpKind.Register => Registers.Index[(int)i.GetOpRegister(n)] >= 0 ? Registers.Size[(int)i.GetOpRegister(n)] : 2,
            OpKind.Memory => i.MemorySize.GetSize(),
            _ => n == 0 ? 0 : OpSize(i, 0),
        };
    }

    internal ulong ReadOp(in Instruction i, int n, int size)
    {
        switch (i.GetOpKind(n))
        {
            case OpKind.Register:
                return ReadReg(i.GetOpRegister(n));
            case OpKind.Memory:
                return Read(SegOf(i.MemorySegment), EffectiveAddress(i), size);
            case OpKind.Immediate8:
                return i.Immediate8;
            case OpKind.Immediate8_2nd:
                return i.Immediate8_2nd;
            case OpKind.Immediate16:
                return i.Immediate16;
            case OpKind.Immediate32:
                return i.Immediate32;
            default:
                return i.GetImmediate(n) & Mask(size);
        }
    }

    internal void WriteOp(in Instruction i, int n, int size, ulong value)
    {
        if (i.GetOpKind(n) == OpKind.Register)
        {
            WriteReg(i.GetOpRegister(n), value);
        }
        else
        {
            Write(SegOf(i.MemorySegment), EffectiveAddress(i), size, value & Mask(size));
        }
    }
}
