using Iced.Intel;

namespace CocoLaunch.Cpu.Tests;

/// <summary>An operand of the instruction being built, so hooks can shape its value after the form is chosen.</summary>
internal readonly record struct VectorOperand(Register Register, int Bits, bool HighByte, int MemoryOffset, bool IsMemory);

/// <summary>
/// One case under construction: the random source, the input state and what each operand is. Registers that no
/// operand uses stay 0 (keeps rows short); RSP is <see cref="RealCpu.StackTop"/> unless a hook moves the stack;
/// RFLAGS has IF set and random status flags (user mode under PVM always runs with IF = 1, and AC must stay clear).
/// </summary>
internal sealed class VectorCase
{
    public const int ScratchBytes = 64;

    private static readonly ulong[] Counts = [0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 255];

    private readonly HashSet<int> reserved = [RealCpuInput.Rsp];
    private readonly HashSet<int> assigned = [RealCpuInput.Rsp];

    public VectorCase(Random rng, bool scratch)
    {
        Rng = rng;
        Input.Gprs[RealCpuInput.Rsp] = RealCpu.StackTop;
        Input.Rflags = 0x202 | RandomStatusFlags();
        if (scratch)
        {
            for (int i = 0; i < ScratchBytes; i++)
            {
                Input.Scratch[i] = Rng.Next(4) == 0 ? (byte)Pick<int>(0, 0xFF, 0x80, 0x7F) : (byte)Rng.Next(256);
            }
        }
    }

    public Random Rng { get; }

    public RealCpuInput Input { get; } = new();

    /// <summary>The instruction's operands in order (immediates as <see cref="Register.None"/> placeholders).</summary>
    public List<VectorOperand> Operands { get; } = [];

    /// <summary>When set, 8-bit register operands may be AH–BH, so nothing in the instruction may need REX.</summary>
    public bool LegacyBytes { get; set; }

    public static int GprIndex(Register r) => r.IsGPR() ? (r.GetFullRegister() - Register.RAX) : throw new ArgumentException($"{r} is not a GPR", nameof(r));

    public static Register Gpr(int index, int bits, bool highByte = false) => bits switch
    {
        64 => Register.RAX + index,
        32 => Register.EAX + index,
        16 => Register.AX + index,
        _ when highByte => Register.AH + index,
        _ => index < 4 ? Register.AL + index : index < 8 ? Register.SPL + (index - 4) : Register.R8L + (index - 8),
    };

    public T Pick<T>(params T[] items) => items[Rng.Next(items.Length)];

    public ulong RandomStatusFlags()
    {
        ulong flags = 0;
        foreach (ulong bit in (ReadOnlySpan<ulong>)[0x1, 0x4, 0x10, 0x40, 0x80, 0x800])
        {
            flags |= Rng.Next(2) == 0 ? bit : 0;
        }

        return flags;
    }

    /// <summary>A 64-bit value whose low <paramref name="bits"/> are often an edge case; the rest is noise to be kept or cleared.</summary>
    public ulong Value(int bits)
    {
        ulong mask = bits == 64 ? ulong.MaxValue : (1UL << bits) - 1;
        ulong sign = 1UL << (bits - 1);
        ulong low = Rng.Next(10) switch
        {
            < 5 => Pick<ulong>(0, 1, 2, mask, mask - 1, sign, sign - 1, sign + 1, 0x5555_5555_5555_5555 & mask, 0xAAAA_AAAA_AAAA_AAAA & mask, 0x0F, 0x80, 0x7F, 0xFF & mask),
            5 => (ulong)Rng.Next(17),
            6 => 1UL << Rng.Next(bits),
            _ => Random64() & mask,
        };
        ulong high = Rng.Next(4) switch { 0 => 0, 1 => ulong.MaxValue, _ => Random64() };
        return (high & ~mask) | low;
    }

    public ulong Random64() => (ulong)Rng.NextInt64() ^ ((ulong)Rng.Next(2) << 63);

    /// <summary>A shift or rotate count: the masking edges for every width, sometimes anything.</summary>
    public ulong Count() => Rng.Next(5) == 0 ? (ulong)Rng.Next(256) : Pick(Counts);

    public void Reserve(int gpr) => reserved.Add(gpr);

    public bool IsAssigned(int gpr) => assigned.Contains(gpr);

    public void SetGpr(int gpr, ulong value)
    {
        Input.Gprs[gpr] = value;
        assigned.Add(gpr);
    }

    /// <summary>A register for an explicit operand, avoiding RSP and registers the instruction uses implicitly.</summary>
    public VectorOperand NewRegister(int bits, bool allowRsp = false)
    {
        bool high = bits == 8 && LegacyBytes && Rng.Next(2) == 0;
        int limit = LegacyBytes ? (bits == 8 && high ? 4 : 8) : 16;
        int index;
        do
        {
            index = Rng.Next(limit);
        }
        while ((reserved.Contains(index) && !(allowRsp && index == RealCpuInput.Rsp)) || (LegacyBytes && bits == 8 && !high && index >= 4));

        if (index != RealCpuInput.Rsp)
        {
            SetGpr(index, high ? (Random64() & ~0xFF00UL) | ((Value(8) & 0xFF) << 8) : Value(bits));
        }

        return new VectorOperand(Gpr(index, bits, high), bits, high, 0, false);
    }

    /// <summary>A fixed register operand (AL, CL, RAX …) with a random value.</summary>
    public VectorOperand FixedRegister(Register r)
    {
        int bits = r.GetSize() * 8;
        int index = GprIndex(r);
        if (!IsAssigned(index))
        {
            SetGpr(index, Value(bits));
        }

        return new VectorOperand(r, bits, false, 0, false);
    }

    /// <summary>
    /// A memory operand at scratch offset <paramref name="offset"/> reached through a random addressing form, so
    /// the decoder's ModRM/SIB/displacement paths vary; its registers are then off limits to other operands.
    /// </summary>
    public MemoryOperand NewMemory(int size, int offset)
    {
        int bases = LegacyBytes ? 8 : 16;
        int baseIndex = Pick(Enumerable.Range(0, bases).Where(i => !reserved.Contains(i)).ToArray());
        Reserve(baseIndex);
        ulong target = RealCpu.ScratchAddress + (ulong)offset;
        int form = Rng.Next(20);
        long disp = form switch
        {
            < 8 => 0,
            < 14 => Rng.Next(-128, 128),
            < 17 => Rng.Next(int.MinValue, int.MaxValue),
            _ => Rng.Next(-128, 128),
        };
        var baseReg = Gpr(baseIndex, 64);
        if (form < 17)
        {
            SetGpr(baseIndex, target - (ulong)disp);
            return new MemoryOperand(baseReg, disp, disp == 0 ? 0 : disp is >= -128 and < 128 ? 1 : 4);
        }

        int indexIndex = Pick(Enumerable.Range(0, bases).Where(i => !reserved.Contains(i)).ToArray());
        Reserve(indexIndex);
        int scale = Pick(1, 2, 4, 8);
        ulong index = (ulong)(long)Rng.Next(-64, 64);
        SetGpr(indexIndex, index);
        SetGpr(baseIndex, target - (ulong)disp - (index * (ulong)scale));
        return new MemoryOperand(baseReg, Gpr(indexIndex, 64), scale, disp, 1);
    }

    public ulong Get(VectorOperand op) => op.IsMemory
        ? BitConverter.ToUInt64(Input.Scratch, op.MemoryOffset) & Mask(op.Bits)
        : (Input.Gprs[GprIndex(op.Register)] >> (op.HighByte ? 8 : 0)) & Mask(op.Bits);

    /// <summary>Replaces the operand's low bits (register or memory), keeping whatever lies above them.</summary>
    public void Set(VectorOperand op, ulong value)
    {
        if (op.IsMemory)
        {
            for (int i = 0; i < op.Bits / 8; i++)
            {
                Input.Scratch[op.MemoryOffset + i] = (byte)(value >> (8 * i));
            }

            return;
        }

        int index = GprIndex(op.Register);
        int shift = op.HighByte ? 8 : 0;
        ulong mask = Mask(op.Bits) << shift;
        SetGpr(index, (Input.Gprs[index] & ~mask) | ((value << shift) & mask));
    }

    public static ulong Mask(int bits) => bits >= 64 ? ulong.MaxValue : (1UL << bits) - 1;
}
