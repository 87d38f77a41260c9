using Iced.Intel;

namespace CocoLaunch.Cpu.Tests;

/// <summary>The forms whose operands are not ModRM choices: string instructions and LEA's address arithmetic.</summary>
internal static class VectorSpecialForms
{
    /// <summary>
    /// Source elements start in scratch bytes 0–31 and destination elements in 32–63 (DF = 0), or end there
    /// (DF = 1); counts 0–3 keep every element inside. CMPS/SCAS get mostly equal data so REPE/REPNE stop midway.
    /// </summary>
    public static Instruction BuildString(VectorForm form, VectorCase c)
    {
        int size = form.Code.ToOpCode().MemorySize.GetSize();
        bool down = c.Rng.Next(2) == 0;
        c.Input.Rflags |= down ? 0x400UL : 0;
        ulong scratch = RealCpu.ScratchAddress;
        ulong rsi = down ? scratch + 32 - (ulong)size - (ulong)c.Rng.Next(4) : scratch + (ulong)c.Rng.Next(4);
        ulong rdi = down ? scratch + 64 - (ulong)size - (ulong)c.Rng.Next(4) : scratch + 32 + (ulong)c.Rng.Next(4);
        c.SetGpr(6, rsi);
        c.SetGpr(7, rdi);
        c.SetGpr(1, (ulong)c.Rng.Next(4));
        c.SetGpr(0, c.Value(64));
        string m = form.Mnemonic;
        if (m.StartsWith("cmps", StringComparison.Ordinal) || m.StartsWith("scas", StringComparison.Ordinal))
        {
            var bytes = c.Input.Scratch.AsSpan(0, VectorCase.ScratchBytes);
            byte fill = (byte)c.Rng.Next(256);
            bytes.Fill(fill);
            for (int i = c.Rng.Next(3); i > 0; i--)
            {
                bytes[c.Rng.Next(bytes.Length)] = (byte)c.Rng.Next(256);
            }

            ulong pattern = fill * 0x0101_0101_0101_0101UL;
            c.SetGpr(0, c.Rng.Next(3) == 0 ? c.Value(64) : (c.Random64() & ~VectorCase.Mask(size * 8)) | (pattern & VectorCase.Mask(size * 8)));
        }

        var rep = form.Rep;
        return form.Code switch
        {
            Code.Movsb_m8_m8 => Instruction.CreateMovsb(64, Register.None, rep),
            Code.Movsw_m16_m16 => Instruction.CreateMovsw(64, Register.None, rep),
            Code.Movsd_m32_m32 => Instruction.CreateMovsd(64, Register.None, rep),
            Code.Movsq_m64_m64 => Instruction.CreateMovsq(64, Register.None, rep),
            Code.Stosb_m8_AL => Instruction.CreateStosb(64, rep),
            Code.Stosw_m16_AX => Instruction.CreateStosw(64, rep),
            Code.Stosd_m32_EAX => Instruction.CreateStosd(64, rep),
            Code.Stosq_m64_RAX => Instruction.CreateStosq(64, rep),
            Code.Lodsb_AL_m8 => Instruction.CreateLodsb(64, Register.None, rep),
            Code.Lodsw_AX_m16 => Instruction.CreateLodsw(64, Register.None, rep),
            Code.Lodsd_EAX_m32 => Instruction.CreateLodsd(64, Register.None, rep),
            Code.Lodsq_RAX_m64 => Instruction.CreateLodsq(64, Register.None, rep),
            Code.Cmpsb_m8_m8 => Instruction.CreateCmpsb(64, Register.None, rep),
            Code.Cmpsw_m16_m16 => Instruction.CreateCmpsw(64, Register.None, rep),
            Code.Cmpsd_m32_m32 => Instruction.CreateCmpsd(64, Register.None, rep),
            Code.Cmpsq_m64_m64 => Instruction.CreateCmpsq(64, Register.None, rep),
            Code.Scasb_AL_m8 => Instruction.CreateScasb(64, rep),
            Code.Scasw_AX_m16 => Instruction.CreateScasw(64, rep),
            Code.Scasd_EAX_m32 => Instruction.CreateScasd(64, rep),
            Code.Scasq_RAX_m64 => Instruction.CreateScasq(64, rep),
            _ => throw new NotSupportedException(form.Code.ToString()),
        };
    }

    /// <summary>
    /// LEA with every addressing shape: any base (RSP, RBP/R13 with their forced displacement, none), index with
    /// scale, disp8/disp32, RIP-relative, and the 32-bit address size (67h) that truncates the sum.
    /// </summary>
    public static Instruction BuildLea(VectorForm form, VectorCase c)
    {
        int bits = form.Code switch { Code.Lea_r16_m => 16, Code.Lea_r32_m => 32, _ => 64 };
        var dest = c.NewRegister(bits);
        c.Operands.Add(dest);
        int shape = c.Rng.Next(10);
        if (shape == 0)
        {
            long target = (long)RealCpu.CodeAddress + c.Rng.Next(-0x10000, 0x10000);
            return Instruction.Create(form.Code, dest.Register, new MemoryOperand(Register.RIP, target));
        }

        int addressBits = shape < 3 ? 32 : 64;
        Register baseReg = c.Rng.Next(8) == 0 ? Register.None : VectorCase.Gpr(c.Rng.Next(16), addressBits);
        Register indexReg = Register.None;
        if (baseReg == Register.None || c.Rng.Next(3) != 0)
        {
            int index;
            do
            {
                index = c.Rng.Next(16);
            }
            while (index == RealCpuInput.Rsp);

            indexReg = VectorCase.Gpr(index, addressBits);
        }

        foreach (var r in (ReadOnlySpan<Register>)[baseReg, indexReg])
        {
            if (r != Register.None && !c.IsAssigned(VectorCase.GprIndex(r)))
            {
                c.SetGpr(VectorCase.GprIndex(r), c.Value(64));
            }
        }

        long disp = c.Rng.Next(3) switch { 0 => 0, 1 => c.Rng.Next(-128, 128), _ => c.Rng.Next(int.MinValue, int.MaxValue) };
        int displSize = disp == 0 ? 0 : disp is >= -128 and < 128 ? 1 : 4;
        int scale = c.Pick(1, 2, 4, 8);
        return Instruction.Create(form.Code, dest.Register, new MemoryOperand(baseReg, indexReg, scale, disp, displSize));
    }
}
