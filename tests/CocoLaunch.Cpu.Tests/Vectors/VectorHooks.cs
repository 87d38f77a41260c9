using Iced.Intel;

namespace CocoLaunch.Cpu.Tests;

/// <summary>Per-mnemonic input shaping: random operands alone would almost never hit these instructions' interesting cases.</summary>
internal static class VectorHooks
{
    private static readonly HashSet<string> Counted = ["shl", "shr", "sar", "sal", "rol", "ror", "rcl", "rcr", "shld", "shrd", "bt", "bts", "btr", "btc"];
    private static readonly HashSet<string> BitScans = ["bsf", "bsr", "tzcnt", "lzcnt", "popcnt"];

    public static void ReserveImplicit(VectorForm form, VectorCase c)
    {
        var op = form.Code.ToOpCode();
        for (int i = 0; i < op.OpCount; i++)
        {
            var fixedRegister = VectorForms.FixedRegister(op.GetOpKind(i));
            if (fixedRegister != Register.None)
            {
                c.Reserve(VectorCase.GprIndex(fixedRegister));
            }
        }

        int[] implicitRegisters = form.Mnemonic switch
        {
            "mul" or "div" or "idiv" => [0, 2],
            "imul" when op.OpCount == 1 => [0, 2],
            "cmpxchg" => [0],
            "cmpxchg8b" or "cmpxchg16b" => [0, 1, 2, 3],
            "enterw" or "enterq" or "leavew" or "leaveq" => [5],
            _ => [],
        };
        foreach (int r in implicitRegisters)
        {
            c.Reserve(r);
        }
    }

    /// <summary>Where the memory operand lies in the 64 scratch bytes: mostly aligned, always wholly inside.</summary>
    public static int MemoryOffset(VectorForm form, int size, VectorCase c)
    {
        if (form.Mnemonic is "bt" or "bts" or "btr" or "btc" && !form.Code.ToString().EndsWith("imm8", StringComparison.Ordinal))
        {
            // A register bit offset addresses memory around the operand; ±256 bits from the middle stays inside.
            return 32;
        }

        if (form.Mnemonic == "cmpxchg16b")
        {
            // Misaligned on purpose now and then: #GP(0), which an emulator must raise too.
            return c.Rng.Next(8) == 0 ? 8 : 16 * c.Rng.Next(4);
        }

        return c.Rng.Next(4) == 0 ? c.Rng.Next(VectorCase.ScratchBytes - size + 1) : size * c.Rng.Next(VectorCase.ScratchBytes / size);
    }

    public static int Immediate(VectorForm form, OpCodeOperandKind kind, int position, VectorCase c)
    {
        if (kind == OpCodeOperandKind.imm8_const_1)
        {
            return 1;
        }

        if (form.Mnemonic is "enterw" or "enterq")
        {
            return position == 0 ? c.Pick(0, 8, 16, 0x18, c.Rng.Next(0x10000)) : c.Pick(0, 1, 2, 3, 4, 32, 33);
        }

        if (kind == OpCodeOperandKind.imm8 && Counted.Contains(form.Mnemonic))
        {
            return (int)c.Count();
        }

        return kind switch
        {
            OpCodeOperandKind.imm8sex16 or OpCodeOperandKind.imm8sex32 or OpCodeOperandKind.imm8sex64 => (sbyte)c.Value(8),
            OpCodeOperandKind.imm8 => (int)(c.Value(8) & 0xFF),
            OpCodeOperandKind.imm16 => (int)(c.Value(16) & 0xFFFF),
            _ => (int)(uint)c.Value(32),
        };
    }

    /// <summary>Adjusts the drawn input after the instruction exists (the operands are in <see cref="VectorCase.Operands"/>).</summary>
    public static void Shape(VectorForm form, VectorCase c)
    {
        var ops = c.Operands;
        string m = form.Mnemonic;
        if (m is "div" or "idiv")
        {
            VectorDivision.Shape(m == "idiv", ops[0], c);
        }
        else if (m == "cmpxchg" && c.Rng.Next(2) == 0)
        {
            c.Set(new VectorOperand(VectorCase.Gpr(0, ops[0].Bits), ops[0].Bits, false, 0, false), c.Get(ops[0]));
        }
        else if (m is "cmpxchg8b" or "cmpxchg16b" && c.Rng.Next(2) == 0)
        {
            int offset = ops[0].MemoryOffset;
            if (m == "cmpxchg8b")
            {
                c.SetGpr(0, (c.Input.Gprs[0] & ~0xFFFF_FFFFUL) | BitConverter.ToUInt32(c.Input.Scratch, offset));
                c.SetGpr(2, (c.Input.Gprs[2] & ~0xFFFF_FFFFUL) | BitConverter.ToUInt32(c.Input.Scratch, offset + 4));
            }
            else
            {
                c.SetGpr(0, BitConverter.ToUInt64(c.Input.Scratch, offset));
                c.SetGpr(2, BitConverter.ToUInt64(c.Input.Scratch, offset + 8));
            }
        }
        else if (BitScans.Contains(m) && c.Rng.Next(4) == 0)
        {
            c.Set(ops[1], 0);
        }
        else if (m is "bt" or "bts" or "btr" or "btc" && ops[0].IsMemory && ops[1].Register != Register.None)
        {
            c.Set(ops[1], (ulong)(long)c.Rng.Next(-256, 256));
        }
        else if (form.Family == "stack")
        {
            ShapeStack(m, c);
        }

        if (ops.Any(o => o.Register == Register.CL))
        {
            c.SetGpr(1, (c.Input.Gprs[1] & ~0xFFUL) | c.Count());
        }
    }

    /// <summary>The stack lives in the scratch bytes so pushes are visible and pops read drawn data.</summary>
    private static void ShapeStack(string m, VectorCase c)
    {
        ulong scratch = RealCpu.ScratchAddress;
        switch (m)
        {
            case "push" or "pushw" or "pushq" or "pushfw" or "pushfq":
                c.SetGpr(RealCpuInput.Rsp, scratch + 48 + (ulong)c.Rng.Next(17));
                break;
            case "pop" or "popfw" or "popfq":
                ulong rsp = scratch + (ulong)c.Rng.Next(57);
                c.SetGpr(RealCpuInput.Rsp, rsp);
                if (m != "pop")
                {
                    // Any image with TF clear (it would single-step into the #DB handler), IF set and IOPL 0: the
                    // only bits POPF treats differently at CPL 0 and CPL 3 then load the same either way.
                    ulong image = (c.Random64() & ~(0x100UL | 0x3000)) | 0x200;
                    BitConverter.TryWriteBytes(c.Input.Scratch.AsSpan((int)(rsp - scratch)), image);
                }

                break;
            case "enterw" or "enterq":
                c.SetGpr(RealCpuInput.Rsp, scratch + 64);
                c.SetGpr(5, scratch + (ulong)(8 * c.Rng.Next(4, 8)) + (ulong)c.Rng.Next(8));
                break;
            case "leavew" or "leaveq":
                c.SetGpr(5, scratch + (ulong)c.Rng.Next(57));
                break;
            default:
                break;
        }
    }
}
