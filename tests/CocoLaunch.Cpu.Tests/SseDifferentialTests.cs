using System.Globalization;
using System.Text;
using Iced.Intel;
using CocoLaunch.Tests.Shared;
using Decoder = Iced.Intel.Decoder;

namespace CocoLaunch.Cpu.Tests;

/// <summary>
/// The SSE/SSE2 subset against the host CPU through KVM. Every legacy-encoded form of every SSE mnemonic the
/// emulator implements is a candidate (found from Iced's opcode tables, so a form added to the emulator is
/// tested without editing this file); random sequences run on XMM0–7 loaded from a buffer of interesting
/// floating-point and integer values, then XMM0–7, MXCSR, the general registers and RFLAGS are compared.
/// </summary>
public sealed class SseDifferentialTests
{
    private const int Count = 1500; // 15,000 pass too (run by hand)
    private static readonly int[] Gprs = [0, 1, 2, 3, 5, 7, 8, 9, 10, 11, 12, 13, 14, 15];

    private static readonly double[] NiceDoubles = [0.0, -0.0, 1.0, -1.5, 3.25, 1e300, -1e-300, double.Epsilon, double.MaxValue, double.PositiveInfinity,
        double.NegativeInfinity, double.NaN, 2147483648.0, -2147483649.0, 9.3e18, 0.5, 2.5];

    private static readonly float[] NiceFloats = [0f, -0f, 1f, -1.5f, 3.25f, 1e38f, -1e-38f, float.Epsilon, float.MaxValue, float.PositiveInfinity,
        float.NegativeInfinity, float.NaN, 2147483648f, 0.5f, 2.5f, 16777217f];

    /// <summary>The forms under test: legacy SSE/SSE2 encodings whose operands are XMM, XMM/m, GPR/m and imm8.</summary>
    internal static readonly Code[] Forms = FindForms();

    [Fact]
    public void Forms_CoverTheSubsetGccEmits()
    {
        string[] names = [.. Forms.Select(c => c.ToString())];
        foreach (string expected in new[] { "Movaps_xmm_xmmm128", "Movdqu_xmm_xmmm128", "Pxor_xmm_xmmm128", "Pcmpeqb_xmm_xmmm128", "Pmovmskb_r32_xmm",
            "Pshufd_xmm_xmmm128_imm8", "Punpcklbw_xmm_xmmm128", "Paddq_xmm_xmmm128", "Psubw_xmm_xmmm128", "Psllq_xmm_imm8", "Addsd_xmm_xmmm64",
            "Cvtsi2sd_xmm_rm64", "Cvttsd2si_r64_xmmm64", "Ucomisd_xmm_xmmm64", "Xorps_xmm_xmmm128", "Movq_xmm_rm64", "Shufpd_xmm_xmmm128_imm8",
            "Movhlps_xmm_xmm", "Movlhps_xmm_xmm" })
        {
            Assert.Contains(expected, names);
        }
    }

    [KvmFact]
    public void RandomSseSequences_MatchTheRealCpu()
    {
        var cpu = RealCpu.Shared!;
        var failures = new StringBuilder();
        int failed = 0;
        var perForm = new Dictionary<Code, int>();
        for (int seed = 1; seed <= Count; seed++)
        {
            var rng = new Random(seed);
            byte[] code = Generate(rng, perForm);
            var input = new RealCpuInput { Rflags = 0x202 };
            for (int r = 0; r < 16; r++)
            {
                input.Gprs[r] = JitDifferentialTests.Interesting(rng);
            }

            input.Gprs[4] = RealCpu.StackTop;
            input.Gprs[6] = RealCpu.ScratchAddress;
            FillValues(rng, input.Scratch.AsSpan(0, 240));
            BitConverter.TryWriteBytes(input.Scratch.AsSpan(240), 0UL);
            BitConverter.TryWriteBytes(input.Scratch.AsSpan(244), 0x1F80u);
            var real = cpu.Run(code, input);

            using var m = new LongModeMachine();
            VectorReplayTests.InstallExceptionHandlers(m);
            m.Cpu.JitThreshold = 0;
            input.Gprs.CopyTo(m.State.Gpr, 0);
            m.State.Rflags = input.Rflags;
            m.Ram.Write(LongModeMachine.ScratchAddress, input.Scratch.AsSpan(0, 256).ToArray());
            var exit = m.RunBytes(code, maxInstructions: 10_000);
            // A fault lands on the HLT at its handler (VectorReplayTests' IDT): Handlers + vector + 1.
            int? vector = exit is CpuExit.Halt h ? (h.Rip is > 0x5000 and <= 0x5020 ? (int)(h.Rip - 0x5001) : null) : -1;
            string emulated = Describe(m.State.Gpr, m.State.Rflags, m.Ram.Read(LongModeMachine.ScratchAddress, 256), vector);
            string expected = Describe(real.Gprs, real.Rflags, real.Scratch.AsSpan(0, 256).ToArray(), real.ExceptionVector);
            if (emulated != expected)
            {
                failed++;
                if (failed <= 4)
                {
                    failures.AppendLine(CultureInfo.InvariantCulture, $"seed {seed}: {Disassemble(code)}\n  real     {expected}\n  emulated {emulated}");
                }
            }
        }

        Assert.True(failed == 0, $"{failed} of {Count} SSE sequences differ from the real CPU:\n{failures}");
        Assert.All(Forms, f => Assert.True(perForm.GetValueOrDefault(f) >= 5, $"{f} ran only {perForm.GetValueOrDefault(f)} times"));
    }

    /// <summary>
    /// Every form with a memory operand, given one 8 bytes off a 16-byte boundary, interpreted and compiled: a
    /// legacy-SSE m128 operand raises #GP(0) unless the form is one of the explicitly unaligned moves (MOVUPS,
    /// MOVUPD, MOVDQU), and m32/m64 operands never do (Intel SDM Vol. 2, each form's "Protected Mode Exceptions";
    /// Vol. 1 §4.1.1). The KVM harness cannot be the reference here: on this host a misaligned SSE access there
    /// reaches KVM's instruction emulator, which answers #UD.
    /// </summary>
    [Fact]
    public void MisalignedMemoryOperands_RaiseGpExactlyForAlignedM128Forms()
    {
        var differ = new List<string>();
        int tried = 0;
        foreach (var form in Forms)
        {
            var op = form.ToOpCode();
            if (!Enumerable.Range(0, op.OpCount).Any(n => op.GetOpKind(n) is OpCodeOperandKind.xmm_or_mem or OpCodeOperandKind.mem))
            {
                continue;
            }

            tried++;
            var instruction = Create(form, new Random(1), new MemoryOperand(Register.RSI, 136));
            bool mustFault = instruction.MemorySize.GetSize() == 16 && instruction.Mnemonic is not (Mnemonic.Movups or Mnemonic.Movupd or Mnemonic.Movdqu);
            var a = new Assembler(64);
            a.AddInstruction(instruction);
            var stream = new MemoryStream();
            a.Assemble(new StreamCodeWriter(stream), LongModeMachine.CodeAddress);
            foreach (bool compiled in new[] { false, true })
            {
                using var m = new LongModeMachine();
                VectorReplayTests.InstallExceptionHandlers(m);
                m.Cpu.JitThreshold = compiled ? 0 : int.MaxValue;
                m.State.Gpr[6] = LongModeMachine.ScratchAddress;
                int? vector = UserModeMachine.Vector(m.RunBytes(stream.ToArray(), maxInstructions: 100));
                if (vector != (mustFault ? 13 : null))
                {
                    differ.Add($"{form} ({(compiled ? "compiled" : "interpreted")}): vector {vector?.ToString(CultureInfo.InvariantCulture) ?? "-"}, expected {(mustFault ? "13" : "-")}");
                }
            }
        }

        Assert.True(tried > 40, $"only {tried} forms take a memory operand");
        Assert.True(differ.Count == 0, string.Join("\n", differ));
    }

    private static string Describe(ulong[] gprs, ulong rflags, byte[] scratch, int? vector) =>
        string.Create(CultureInfo.InvariantCulture, $"vector {vector?.ToString(CultureInfo.InvariantCulture) ?? "-"} rflags {rflags & 0xCD5:x} {string.Join(' ', gprs.Select(g => g.ToString("x", CultureInfo.InvariantCulture)))}\n    xmm0-7 {Convert.ToHexStringLower(scratch.AsSpan(0, 128))} mxcsr {BitConverter.ToUInt32(scratch, 240) & ~MxcsrStatus:x}");

    // The sticky exception status bits (IE DE ZE OE UE PE) are not modelled: the emulator leaves them clear.
    private const uint MxcsrStatus = 0x3F;

    private static Code[] FindForms()
    {
        var emulated = new HashSet<string>(StringComparer.Ordinal);
        // The interpreter's dispatch (Sse.cs) and the lane operations it shares with compiled code.
        foreach (string line in new[] { "Sse.cs", "SseLanes.cs", "SseScalar.cs" }.SelectMany(f => File.ReadLines(Path.Combine(RepoPaths.Root, "src", "CocoLaunch.Cpu", f))))
        {
            foreach (System.Text.RegularExpressions.Match match in System.Text.RegularExpressions.Regex.Matches(line, @"Mnemonic\.([A-Za-z0-9]+)"))
            {
                emulated.Add(match.Groups[1].Value);
            }
        }

        // State instructions are tested elsewhere; MOVHPS/MOVLPS-style forms need memory on one side only.
        string[] skip = ["Fxsave", "Fxsave64", "Fxrstor", "Fxrstor64", "Ldmxcsr", "Stmxcsr"];
        return [.. Enum.GetValues<Code>().Where(c =>
        {
            string name = c.ToString();
            if (name.StartsWith("VEX_", StringComparison.Ordinal) || name.StartsWith("EVEX_", StringComparison.Ordinal) || name.Contains("_mm", StringComparison.Ordinal)
                || !emulated.Contains(c.Mnemonic().ToString()) || skip.Contains(c.Mnemonic().ToString()))
            {
                return false;
            }

            var op = c.ToOpCode();
            if (!op.Mode64 || op.Encoding != EncodingKind.Legacy || op.OpCount == 0)
            {
                return false;
            }

            for (int n = 0; n < op.OpCount; n++)
            {
                if (op.GetOpKind(n) is not (OpCodeOperandKind.xmm_reg or OpCodeOperandKind.xmm_rm or OpCodeOperandKind.r32_rm or OpCodeOperandKind.r64_rm or OpCodeOperandKind.xmm_or_mem or OpCodeOperandKind.imm8 or OpCodeOperandKind.r32_or_mem
                    or OpCodeOperandKind.r64_or_mem or OpCodeOperandKind.r32_reg or OpCodeOperandKind.r64_reg or OpCodeOperandKind.mem))
                {
                    return false;
                }
            }

            return true;
        })];
    }

    private static byte[] Generate(Random rng, Dictionary<Code, int> perForm)
    {
        var a = new Assembler(64);
        // The harness's vCPU keeps MXCSR from run to run: start each sequence from the reset value.
        a.AddInstruction(Instruction.Create(Code.Ldmxcsr_m32, new MemoryOperand(Register.RSI, 244)));
        for (int x = 0; x < 8; x++)
        {
            a.AddInstruction(Instruction.Create(Code.Movdqu_xmm_xmmm128, Register.XMM0 + x, new MemoryOperand(Register.RSI, 16 * x)));
        }

        int length = rng.Next(1, 8);
        for (int n = 0; n < length; n++)
        {
            var form = Forms[rng.Next(Forms.Length)];
            perForm[form] = perForm.GetValueOrDefault(form) + 1;
            a.AddInstruction(Create(form, rng));
        }

        for (int x = 0; x < 8; x++)
        {
            a.AddInstruction(Instruction.Create(Code.Movdqu_xmmm128_xmm, new MemoryOperand(Register.RSI, 16 * x), Register.XMM0 + x));
        }

        a.AddInstruction(Instruction.Create(Code.Stmxcsr_m32, new MemoryOperand(Register.RSI, 240)));
        var stream = new MemoryStream();
        a.Assemble(new StreamCodeWriter(stream), LongModeMachine.CodeAddress);
        return stream.ToArray();
    }

    /// <param name="at">A memory operand to use wherever the form allows one (otherwise: random, 16-byte aligned).</param>
    private static Instruction Create(Code form, Random rng, MemoryOperand? at = null)
    {
        var op = form.ToOpCode();
        // Memory operands come from the second half of the buffer, 16-byte aligned for the forms that fault otherwise.
        var memory = at ?? new MemoryOperand(Register.RSI, 128 + (16 * rng.Next(0, 7)));
        bool useMemory = at is not null || rng.Next(3) == 0;
        var operands = new List<object>();
        for (int n = 0; n < op.OpCount; n++)
        {
            operands.Add(op.GetOpKind(n) switch
            {
                OpCodeOperandKind.xmm_reg or OpCodeOperandKind.xmm_rm => Register.XMM0 + rng.Next(8),
                OpCodeOperandKind.r32_rm => Register.EAX + Gprs[rng.Next(Gprs.Length)],
                OpCodeOperandKind.r64_rm => Register.RAX + Gprs[rng.Next(Gprs.Length)],
                OpCodeOperandKind.xmm_or_mem => useMemory ? memory : Register.XMM0 + rng.Next(8),
                OpCodeOperandKind.mem => memory,
                OpCodeOperandKind.r32_or_mem => useMemory ? memory : Register.EAX + Gprs[rng.Next(Gprs.Length)],
                OpCodeOperandKind.r64_or_mem => useMemory ? memory : Register.RAX + Gprs[rng.Next(Gprs.Length)],
                OpCodeOperandKind.r32_reg => Register.EAX + Gprs[rng.Next(Gprs.Length)],
                OpCodeOperandKind.r64_reg => Register.RAX + Gprs[rng.Next(Gprs.Length)],
                _ => (object)rng.Next(0, 256),
            });
        }

        return operands switch
        {
            [Register r0] => Instruction.Create(form, r0),
            [MemoryOperand m0] => Instruction.Create(form, m0),
            [Register r0, Register r1] => Instruction.Create(form, r0, r1),
            [Register r0, MemoryOperand m1] => Instruction.Create(form, r0, m1),
            [MemoryOperand m0, Register r1] => Instruction.Create(form, m0, r1),
            [Register r0, int i1] => Instruction.Create(form, r0, i1),
            [Register r0, Register r1, int i2] => Instruction.Create(form, r0, r1, i2),
            [Register r0, MemoryOperand m1, int i2] => Instruction.Create(form, r0, m1, i2),
            _ => throw new InvalidOperationException($"{form}: operand pattern not generated"),
        };
    }

    /// <summary>Lanes of special doubles and floats, small integers and random bits.</summary>
    internal static void FillValues(Random rng, Span<byte> buffer)
    {
        for (int lane = 0; lane < buffer.Length / 8; lane++)
        {
            var slot = buffer.Slice(lane * 8, 8);
            switch (rng.Next(4))
            {
                case 0: BitConverter.TryWriteBytes(slot, NiceDoubles[rng.Next(NiceDoubles.Length)] * (rng.Next(2) == 0 ? 1 : rng.NextDouble() * 1e3)); break;
                case 1:
                    BitConverter.TryWriteBytes(slot, NiceFloats[rng.Next(NiceFloats.Length)]);
                    BitConverter.TryWriteBytes(slot[4..], NiceFloats[rng.Next(NiceFloats.Length)] * (float)rng.NextDouble());
                    break;
                case 2: BitConverter.TryWriteBytes(slot, (long)rng.Next(-300, 300)); break;
                default: rng.NextBytes(slot); break;
            }
        }
    }

    internal static string Disassemble(byte[] code)
    {
        var decoder = Decoder.Create(64, new ByteArrayCodeReader(code), LongModeMachine.CodeAddress);
        var formatter = new NasmFormatter();
        var output = new StringOutput();
        var lines = new List<string>();
        while (decoder.IP < LongModeMachine.CodeAddress + (ulong)code.Length)
        {
            var i = decoder.Decode();
            if (i.Mnemonic is Mnemonic.Movdqu or Mnemonic.Stmxcsr or Mnemonic.Ldmxcsr && i.MemoryBase == Register.RSI)
            {
                continue;
            }

            formatter.Format(i, output);
            lines.Add(output.ToStringAndReset());
        }

        return string.Join("; ", lines);
    }
}
