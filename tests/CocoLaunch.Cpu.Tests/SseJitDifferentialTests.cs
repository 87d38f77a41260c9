using System.Globalization;
using System.Text;
using CocoLaunch.Cpu.Jit;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace CocoLaunch.Cpu.Tests;

/// <summary>
/// The block compiler's SSE/SSE2 forms against the interpreter: random sequences of every form the interpreter
/// implements (<see cref="SseDifferentialTests.Forms"/>) on XMM0–15, with memory operands that are aligned,
/// unaligned (the aligned forms #GP), on an unmapped page or straddling the end of mapped memory (a #PF after the
/// first quadword of an m128 store is written), flag producers and readers around (U)COMIS*, forward branches,
/// CR0.TS set or cleared by interpreted instructions, and CR0/CR4 states in which SSE is #UD or #NM. Run once
/// interpreted and once compiled on first execution: registers, XMM0–15, RFLAGS, RIP, CR0, CR2, the instructions
/// retired, the scratch buffer, the last bytes of mapped memory and the stack (where an exception frame lands)
/// must be identical.
/// </summary>
public sealed class SseJitDifferentialTests
{
    private const int Sequences = 3000; // 30,000 pass too (run by hand)
    private const ulong EndOfMapped = 0x40_0000; // LongModeMachine maps 4 MiB; the next page faults
    private const int EndOfMappedFromRsi = (int)(EndOfMapped - LongModeMachine.ScratchAddress);
    private const int UnmappedFromRsi = 0x3FE0_0000; // RSI + this = 1 GiB: no page there

    private static readonly int[] Gprs = [0, 1, 2, 3, 5, 7, 8, 9, 10, 11, 12, 13, 14, 15];
    private static readonly Code[] FlagReaders = [Code.Setb_rm8, Code.Sete_rm8, Code.Setp_rm8, Code.Seta_rm8, Code.Setl_rm8];

    [Fact]
    public void EveryImplementedSseForm_IsCompiled()
    {
        foreach (var form in SseDifferentialTests.Forms)
        {
            var plans = BlockCompiler.PlanBlock([Create(form, new Random((int)form), new Dictionary<Code, int>())], 64, out _);
            Assert.True(plans[0] == InstructionPlan.SseChecked, $"{form} is planned {plans[0]}");
        }
    }

    [Fact]
    public void RandomSseSequences_CompiledEqualsInterpreted()
    {
        var failures = new StringBuilder();
        int failed = 0;
        var perForm = new Dictionary<Code, int>();
        var faults = new Dictionary<string, int>();
        long leftToInterpreter = 0, interpretedInBlocks = 0;
        for (int seed = 1; seed <= Sequences; seed++)
        {
            byte[] code = Generate(new Random(seed), perForm, ref leftToInterpreter);
            var (interpreted, vector, _) = Run(code, seed, compiled: false);
            var (jitted, _, fallbacks) = Run(code, seed, compiled: true);
            interpretedInBlocks += fallbacks;
            faults[vector] = faults.GetValueOrDefault(vector) + 1;
            if (interpreted != jitted)
            {
                failed++;
                if (failed <= 3)
                {
                    failures.AppendLine(CultureInfo.InvariantCulture, $"seed {seed}: {SseDifferentialTests.Disassemble(code)}\n  interpreted {interpreted}\n  compiled    {jitted}");
                }
            }
        }

        Assert.True(failed == 0, $"{failed} of {Sequences} sequences differ:\n{failures}");
        // Only one HLT per sequence (its own or a fault handler's), MOV CR0 and CLTS may reach the interpreter;
        // EveryImplementedSseForm_IsCompiled checks each form exactly.
        Assert.True(interpretedInBlocks <= leftToInterpreter + Sequences, $"compiled blocks interpreted {interpretedInBlocks} instructions");
        Assert.All(SseDifferentialTests.Forms, f => Assert.True(perForm.GetValueOrDefault(f) >= 10, $"{f} drawn only {perForm.GetValueOrDefault(f)} times"));
        // Every way out is exercised: running to the end, #UD, #NM, #GP (alignment) and #PF.
        foreach (string end in new[] { "-", "6", "7", "13", "14" })
        {
            Assert.True(faults.GetValueOrDefault(end) >= 20, $"only {faults.GetValueOrDefault(end)} sequences ended with vector {end}");
        }
    }

    private static (string State, string Vector, long InterpretedInBlocks) Run(byte[] code, int seed, bool compiled)
    {
        var rng = new Random(seed * 7919);
        using var m = new LongModeMachine();
        VectorReplayTests.InstallExceptionHandlers(m);
        m.Cpu.JitThreshold = compiled ? 0 : int.MaxValue;
        for (int r = 0; r < 16; r++)
        {
            m.State.Gpr[r] = JitDifferentialTests.Interesting(rng);
        }

        m.State.Gpr[4] = LongModeMachine.StackTop;
        m.State.Gpr[6] = LongModeMachine.ScratchAddress;
        m.State.Rflags = ((ulong)rng.Next(0, 0x1000) & 0x8D5) | 2;
        byte[] xmm = new byte[256];
        SseDifferentialTests.FillValues(rng, xmm);
        Buffer.BlockCopy(xmm, 0, m.State.Xmm, 0, xmm.Length);
        byte[] scratch = new byte[256];
        SseDifferentialTests.FillValues(rng, scratch);
        m.Ram.Write(LongModeMachine.ScratchAddress, scratch);
        m.Ram.Write(EndOfMapped - 32, scratch.AsSpan(0, 32).ToArray());
        switch (rng.Next(40))
        {
            case 0: m.State.Cr0 |= CpuState.Cr0Ts; break; // #NM at the first SSE form
            case 1: m.State.Cr0 |= CpuState.Cr0Em; break; // #UD
            case 2: m.State.Cr4 &= ~CpuState.Cr4OsFxsr; break; // #UD
        }

        var exit = m.RunBytes(code, maxInstructions: 10_000);
        ulong rip = m.State.Rip;
        string vector = exit is CpuExit.Halt && rip is > 0x5000 and <= 0x5020 ? (rip - 0x5001).ToString(CultureInfo.InvariantCulture) : "-";
        var s = new StringBuilder();
        s.Append(CultureInfo.InvariantCulture, $"exit {exit.GetType().Name} vector {vector} rip {rip:x} rflags {m.State.Rflags:x} cr0 {m.State.Cr0:x} cr2 {m.State.Cr2:x} retired {m.Cpu.InstructionsRetired}");
        for (int r = 0; r < 16; r++)
        {
            s.Append(CultureInfo.InvariantCulture, $" r{r}={m.State.Gpr[r]:x}");
        }

        for (int x = 0; x < 16; x++)
        {
            s.Append(CultureInfo.InvariantCulture, $" xmm{x}={m.State.Xmm[(2 * x) + 1]:x16}{m.State.Xmm[2 * x]:x16}");
        }

        s.Append(" scratch ").Append(Convert.ToHexStringLower(m.Ram.Read(LongModeMachine.ScratchAddress, scratch.Length)));
        s.Append(" end ").Append(Convert.ToHexStringLower(m.Ram.Read(EndOfMapped - 32, 32)));
        s.Append(" stack ").Append(Convert.ToHexStringLower(m.Ram.Read(LongModeMachine.StackTop - 128, 128)));
        return (s.ToString(), vector, m.Cpu.Counters.InstructionsHandedToInterpreter);
    }

    private static byte[] Generate(Random rng, Dictionary<Code, int> perForm, ref long leftToInterpreter)
    {
        var a = new Assembler(64);
        int length = rng.Next(2, 16);
        for (int n = 0; n < length; n++)
        {
            switch (rng.Next(24))
            {
                case 0:
                    a.AddInstruction(rng.Next(2) == 0 ? Instruction.Create(Code.Add_rm64_r64, Gpr(64, rng), Gpr(64, rng)) : Instruction.Create(Code.Cmp_rm32_r32, Gpr(32, rng), Gpr(32, rng)));
                    break;
                case 1:
                    a.AddInstruction(Instruction.Create(FlagReaders[rng.Next(FlagReaders.Length)], Register.AL + rng.Next(4)));
                    break;
                case 2:
                {
                    // A forward branch on the flags (often a COMIS's) over one form: two blocks, the second entered either way.
                    var skip = a.CreateLabel();
                    switch (rng.Next(3))
                    {
                        case 0: a.jp(skip); break;
                        case 1: a.jb(skip); break;
                        default: a.je(skip); break;
                    }

                    AddForm(a, rng, perForm);
                    a.Label(ref skip);
                    a.nop();
                    break;
                }

                case 3 when rng.Next(4) == 0:
                    // Interpreted, and it ends the block: the next block's first SSE form must find CR0.TS set.
                    a.mov(rax, cr0);
                    a.or(rax, 8);
                    a.mov(cr0, rax);
                    leftToInterpreter += 2;
                    break;
                case 4 when rng.Next(4) == 0:
                    a.clts(); // interpreted, within the block
                    leftToInterpreter++;
                    break;
                default:
                    AddForm(a, rng, perForm);
                    break;
            }
        }

        var stream = new MemoryStream();
        a.Assemble(new StreamCodeWriter(stream), LongModeMachine.CodeAddress);
        return stream.ToArray();
    }

    private static void AddForm(Assembler a, Random rng, Dictionary<Code, int> perForm)
    {
        var forms = SseDifferentialTests.Forms;
        var form = forms[rng.Next(forms.Length)];
        a.AddInstruction(Create(form, rng, perForm));
    }

    private static Instruction Create(Code form, Random rng, Dictionary<Code, int> perForm)
    {
        perForm[form] = perForm.GetValueOrDefault(form) + 1;
        var op = form.ToOpCode();
        var memory = Memory(rng);
        bool useMemory = rng.Next(3) == 0;
        var operands = new List<object>();
        for (int n = 0; n < op.OpCount; n++)
        {
            operands.Add(op.GetOpKind(n) switch
            {
                OpCodeOperandKind.xmm_reg or OpCodeOperandKind.xmm_rm => Register.XMM0 + rng.Next(16),
                OpCodeOperandKind.r32_rm or OpCodeOperandKind.r32_reg => Gpr(32, rng),
                OpCodeOperandKind.r64_rm or OpCodeOperandKind.r64_reg => Gpr(64, rng),
                OpCodeOperandKind.xmm_or_mem => useMemory ? memory : Register.XMM0 + rng.Next(16),
                OpCodeOperandKind.mem => memory,
                OpCodeOperandKind.r32_or_mem => useMemory ? memory : Gpr(32, rng),
                OpCodeOperandKind.r64_or_mem => useMemory ? memory : Gpr(64, rng),
                _ => (object)(rng.Next(3) == 0 ? rng.Next(0, 256) : rng.Next(0, 20)), // small shift counts are the common ones
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

    /// <summary>Mostly 16-byte aligned in the scratch buffer; sometimes unaligned, unmapped, or across the end of mapped memory.</summary>
    private static MemoryOperand Memory(Random rng) => rng.Next(40) switch
    {
        < 6 => new MemoryOperand(Register.RSI, rng.Next(0, 241)),
        6 => new MemoryOperand(Register.RSI, UnmappedFromRsi + rng.Next(0, 4096)),
        7 => new MemoryOperand(Register.RSI, EndOfMappedFromRsi - (4 * rng.Next(1, 5))),
        8 => new MemoryOperand(Register.RSI, EndOfMappedFromRsi - 16),
        _ => new MemoryOperand(Register.RSI, 16 * rng.Next(0, 15)),
    };

    private static Register Gpr(int bits, Random rng)
    {
        int index = Gprs[rng.Next(Gprs.Length)];
        return bits == 32 ? Register.EAX + index : Register.RAX + index;
    }
}
