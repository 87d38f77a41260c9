using Iced.Intel;

namespace CocoLaunch.Cpu.Tests;

/// <summary>
/// Turns a <see cref="VectorForm"/> into one random instruction and the input it runs on: operands from the
/// op-code's operand kinds, then <see cref="VectorHooks"/> for the mnemonics whose interesting inputs are narrow
/// (divisions that do not overflow, counts at the masking edges, stacks and strings inside the scratch bytes).
/// </summary>
internal static class VectorBuilder
{
    public static Instruction Build(VectorForm form, VectorCase c)
    {
        if (form.Family == "string")
        {
            return VectorSpecialForms.BuildString(form, c);
        }

        if (form.Family == "lea")
        {
            return VectorSpecialForms.BuildLea(form, c);
        }

        var op = form.Code.ToOpCode();
        var kinds = Enumerable.Range(0, op.OpCount).Select(op.GetOpKind).ToArray();
        VectorHooks.ReserveImplicit(form, c);
        c.LegacyBytes = kinds.Any(k => VectorForms.RegisterBits(k) == 8) && c.Rng.Next(3) == 0;

        MemoryOperand memory = default;
        int memorySize = form.Memory ? op.MemorySize.GetSize() : 0;
        if (form.Memory)
        {
            memory = c.NewMemory(memorySize, VectorHooks.MemoryOffset(form, memorySize, c));
        }

        var args = new List<object>();
        foreach (var kind in kinds)
        {
            int bits = VectorForms.RegisterBits(kind);
            var fixedRegister = VectorForms.FixedRegister(kind);
            if (form.Memory && (VectorForms.IsRegisterOrMemory(kind) || kind == OpCodeOperandKind.mem))
            {
                args.Add(memory);
                c.Operands.Add(new VectorOperand(Register.None, memorySize * 8, false, MemoryOffsetOf(c, memory), true));
            }
            else if (bits != 0)
            {
                var operand = c.NewRegister(bits, allowRsp: form.Family == "stack");
                args.Add(operand.Register);
                c.Operands.Add(operand);
            }
            else if (fixedRegister != Register.None)
            {
                var operand = c.FixedRegister(fixedRegister);
                args.Add(operand.Register);
                c.Operands.Add(operand);
            }
            else
            {
                args.Add(VectorHooks.Immediate(form, kind, args.Count, c));
                c.Operands.Add(new VectorOperand(Register.None, 0, false, 0, false));
            }
        }

        var instruction = Create(form.Code, args);
        AssignImplicitRegisters(instruction, c);
        VectorHooks.Shape(form, c);
        return instruction;
    }

    /// <summary>Registers the instruction reads without naming them (RAX for MUL, RDX:RAX for CMPXCHG8B …) get random values.</summary>
    public static void AssignImplicitRegisters(in Instruction instruction, VectorCase c)
    {
        foreach (var used in new InstructionInfoFactory().GetInfo(instruction).GetUsedRegisters())
        {
            if (used.Register.IsGPR())
            {
                int index = VectorCase.GprIndex(used.Register);
                if (!c.IsAssigned(index))
                {
                    c.SetGpr(index, c.Value(64));
                }
            }
        }
    }

    private static int MemoryOffsetOf(VectorCase c, MemoryOperand memory)
    {
        ulong address = c.Input.Gprs[VectorCase.GprIndex(memory.Base)] + (ulong)memory.Displacement;
        if (memory.Index != Register.None)
        {
            address += c.Input.Gprs[VectorCase.GprIndex(memory.Index)] * (ulong)memory.Scale;
        }

        return (int)(address - RealCpu.ScratchAddress);
    }

    private static Instruction Create(Code code, List<object> a)
    {
        string shape = string.Concat(a.Select(x => x switch { Register => 'R', MemoryOperand => 'M', _ => 'I' }));
        Register R(int i) => (Register)a[i];
        MemoryOperand M(int i) => (MemoryOperand)a[i];
        int I(int i) => (int)a[i];
        return shape switch
        {
            "" => Instruction.Create(code),
            "R" => Instruction.Create(code, R(0)),
            "M" => Instruction.Create(code, M(0)),
            "I" => Instruction.Create(code, I(0)),
            "II" => Instruction.Create(code, I(0), I(1)),
            "RR" => Instruction.Create(code, R(0), R(1)),
            "RM" => Instruction.Create(code, R(0), M(1)),
            "MR" => Instruction.Create(code, M(0), R(1)),
            "RI" => Instruction.Create(code, R(0), I(1)),
            "MI" => Instruction.Create(code, M(0), I(1)),
            "RRI" => Instruction.Create(code, R(0), R(1), I(2)),
            "RMI" => Instruction.Create(code, R(0), M(1), I(2)),
            "MRI" => Instruction.Create(code, M(0), R(1), I(2)),
            "RRR" => Instruction.Create(code, R(0), R(1), R(2)),
            "MRR" => Instruction.Create(code, M(0), R(1), R(2)),
            _ => throw new NotSupportedException($"{code}: operand shape {shape}"),
        };
    }
}
