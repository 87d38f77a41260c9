using System.Globalization;
using System.Text;
using Iced.Intel;
using Decoder = Iced.Intel.Decoder;
using static Iced.Intel.AssemblerRegisters;

namespace CocoLaunch.Cpu.Tests;

/// <summary>
/// The block compiler against the interpreter: random sequences of the instructions it compiles (and some it
/// leaves to the interpreter), with random operands, flags read mid-block, forward branches and the odd page
/// fault, run once interpreted and once compiled on first execution. Registers, RFLAGS, RIP, CR2, scratch memory
/// and the stack (where an exception frame lands) must be identical. Any mismatch names its seed.
/// </summary>
public sealed class JitDifferentialTests
{
    private const int Sequences = 3000; // 30,000 pass too (run by hand)
    private const ulong Unmapped = 0x4000_0000;

    // RSP and RSI are not drawn: RSP is the stack, RSI points at the scratch buffer.
    private static readonly int[] Gprs = [0, 1, 2, 3, 5, 7, 8, 9, 10, 11, 12, 13, 14, 15];
    private static readonly string[] AluOps = ["Add", "Sub", "And", "Or", "Xor", "Cmp", "Test", "Adc", "Sbb"];
    private static readonly string[] ShiftOps = ["Shl", "Shr", "Sar", "Rol", "Ror", "Rcl", "Rcr"];
    private static readonly string[] Conditions = ["o", "no", "b", "ae", "e", "ne", "be", "a", "s", "ns", "p", "np", "l", "ge", "le", "g"];
    private static readonly int[] Bits = [8, 16, 32, 64];

    [Fact]
    public void RandomSequences_CompiledEqualsInterpreted()
    {
        var failures = new StringBuilder();
        int failed = 0, compiledBlocks = 0;
        for (int seed = 1; seed <= Sequences; seed++)
        {
            byte[] code = Generate(new Random(seed));
            var rng = new Random(seed * 7919);
            ulong[] gprs = [.. Enumerable.Range(0, 16).Select(_ => Interesting(rng))];
            ulong flags = (ulong)rng.Next(0, 0x1000) & 0x8D5;
            byte[] scratch = new byte[256];
            rng.NextBytes(scratch);
            var (interpreted, _) = Run(code, gprs, flags, scratch, compiled: false);
            var (jitted, blocks) = Run(code, gprs, flags, scratch, compiled: true);
            compiledBlocks += blocks;
            if (interpreted != jitted)
            {
                failed++;
                if (failed <= 3)
                {
                    failures.AppendLine(CultureInfo.InvariantCulture, $"seed {seed} [{Convert.ToHexStringLower(code)}]:\n  interpreted {interpreted}\n  compiled    {jitted}");
                }
            }
        }

        Assert.True(failed == 0, $"{failed} of {Sequences} sequences differ:\n{failures}");
        Assert.True(compiledBlocks >= Sequences, $"only {compiledBlocks} blocks were compiled");
    }

    private static (string State, int Blocks) Run(byte[] code, ulong[] gprs, ulong flags, byte[] scratch, bool compiled)
    {
        using var m = new LongModeMachine();
        VectorReplayTests.InstallExceptionHandlers(m);
        m.Cpu.JitThreshold = compiled ? 0 : int.MaxValue;
        gprs.CopyTo(m.State.Gpr, 0);
        m.State.Gpr[4] = LongModeMachine.StackTop;
        m.State.Gpr[6] = LongModeMachine.ScratchAddress;
        m.State.Rflags = flags | 2;
        m.Ram.Write(LongModeMachine.ScratchAddress, scratch);
        var exit = m.RunBytes(code, maxInstructions: 10_000);
        var s = new StringBuilder();
        s.Append(CultureInfo.InvariantCulture, $"exit {exit.GetType().Name} rip {m.State.Rip:x} rflags {m.State.Rflags:x} cr2 {m.State.Cr2:x} retired {m.Cpu.InstructionsRetired}");
        for (int r = 0; r < 16; r++)
        {
            s.Append(CultureInfo.InvariantCulture, $" r{r}={m.State.Gpr[r]:x}");
        }

        s.Append(" scratch ").Append(Convert.ToHexStringLower(m.Ram.Read(LongModeMachine.ScratchAddress, scratch.Length)));
        s.Append(" stack ").Append(Convert.ToHexStringLower(m.Ram.Read(LongModeMachine.StackTop - 128, 128)));
        return (s.ToString(), m.Cpu.BlocksCompiled);
    }

    internal static ulong Interesting(Random rng) => rng.Next(6) switch
    {
        0 => 0,
        1 => ulong.MaxValue,
        2 => 0x8000_0000_0000_0000UL >> rng.Next(64),
        3 => (ulong)rng.Next(-4, 5),
        _ => (ulong)rng.NextInt64() ^ ((ulong)rng.Next() << 33),
    };

    /// <summary>
    /// The same generator against the host CPU through KVM, compiled on first run: the sequences leave out what
    /// differs between a user-mode harness and the emulator's machine by design (PUSHFQ's IF and RF, RDTSC,
    /// page faults), and compare registers, RFLAGS, RIP and the scratch buffer after each sequence.
    /// </summary>
    [KvmFact]
    public void RandomSequences_CompiledEqualsTheRealCpu()
    {
        var cpu = RealCpu.Shared!;
        var failures = new StringBuilder();
        int failed = 0, compared = 0;
        const int Count = 2000;
        for (int seed = 1; seed <= Count; seed++)
        {
            byte[] code = Generate(new Random(seed), forRealCpu: true);
            if (UndefinedAtEnd(code) is not { } whole)
            {
                continue; // a branch, SETcc, CMOVcc or ADC reads a flag the architecture leaves undefined
            }

            ulong undefined = whole;
            compared++;
            var rng = new Random(seed * 7919);
            var input = new RealCpuInput { Rflags = ((ulong)rng.Next(0, 0x1000) & 0x8D5) | 0x202 };
            for (int r = 0; r < 16; r++)
            {
                input.Gprs[r] = Interesting(rng);
            }

            input.Gprs[4] = RealCpu.StackTop;
            input.Gprs[6] = RealCpu.ScratchAddress;
            rng.NextBytes(input.Scratch.AsSpan(0, 256));
            var real = cpu.Run(code, input);

            using var m = new LongModeMachine();
            VectorReplayTests.InstallExceptionHandlers(m);
            m.Cpu.JitThreshold = 0;
            input.Gprs.CopyTo(m.State.Gpr, 0);
            m.State.Rflags = input.Rflags;
            m.Ram.Write(LongModeMachine.ScratchAddress, input.Scratch.AsSpan(0, 256).ToArray());
            var exit = m.RunBytes(code, maxInstructions: 10_000);
            ulong rip = m.State.Rip, rflags = m.State.Rflags;
            int? vector = exit is CpuExit.Halt ? UserModeMachine.Vector(exit) : -1;
            if (vector is > 0 or 0)
            {
                // A #DE from DIV/IDIV: the state the exception frame holds, as the real harness reports it.
                int e = Cpu.Vector.HasErrorCode(vector.Value) ? 1 : 0;
                rip = UserModeMachine.Frame(m, e);
                rflags = UserModeMachine.Frame(m, e + 2);
                m.State.Gpr[4] = UserModeMachine.Frame(m, e + 3);
            }

            if (real.ExceptionVector is not null)
            {
                undefined = UndefinedAtEnd(code, real.Rip)!.Value;
            }

            string emulated = Describe(m.State.Gpr, rflags & ~undefined, rip, m.Ram.Read(LongModeMachine.ScratchAddress, 256), vector);
            string expected = Describe(real.Gprs, real.Rflags & ~undefined, real.Rip, real.Scratch.AsSpan(0, 256).ToArray(), real.ExceptionVector);
            if (emulated != expected)
            {
                failed++;
                if (failed <= 3)
                {
                    failures.AppendLine(CultureInfo.InvariantCulture, $"seed {seed} [{Convert.ToHexStringLower(code)}]:\n  real     {expected}\n  emulated {emulated}");
                }
            }
        }

        Assert.True(failed == 0, $"{failed} of {compared} sequences differ from the real CPU:\n{failures}");
        Assert.True(compared >= Count / 2, $"only {compared} of {Count} sequences avoid undefined flags");
    }

    /// <summary>
    /// The flags that may be undefined after the sequence (RFLAGS bits), or null when something reads one that
    /// may be undefined: then the two CPUs may legitimately take different paths. An instruction a forward branch
    /// can skip contributes what it may leave and keeps what was there before.
    /// </summary>
    /// <param name="faultAt">Where an exception stopped the sequence: only the instructions before it count.</param>
    private static ulong? UndefinedAtEnd(byte[] code, ulong? faultAt = null)
    {
        var decoder = Decoder.Create(64, new ByteArrayCodeReader(code), LongModeMachine.CodeAddress);
        int undefined = 0;
        ulong skippableUntil = 0;
        while (decoder.IP < LongModeMachine.CodeAddress + (ulong)code.Length && decoder.IP != faultAt)
        {
            var i = decoder.Decode();
            if ((RflagsBitsOf(i.RflagsRead) & undefined) != 0)
            {
                return null;
            }

            bool countMayBeZero = i.Mnemonic is Mnemonic.Shl or Mnemonic.Shr or Mnemonic.Sar or Mnemonic.Rol or Mnemonic.Ror
                && (i.Op1Kind != OpKind.Immediate8 || (i.Immediate8 & 0x1F) == 0);
            int must = countMayBeZero ? 0 : RflagsBitsOf(i.RflagsWritten | i.RflagsCleared | i.RflagsSet);
            int after = (undefined & ~must) | RflagsBitsOf(i.RflagsUndefined);
            undefined = i.IP < skippableUntil ? after | undefined : after;
            if (i.FlowControl == FlowControl.ConditionalBranch)
            {
                skippableUntil = i.NearBranchTarget;
            }
        }

        return (ulong)ToRflags(undefined);
    }

    private const int Arithmetic = (int)(RflagsBits.OF | RflagsBits.SF | RflagsBits.ZF | RflagsBits.AF | RflagsBits.CF | RflagsBits.PF);

    private static int RflagsBitsOf(RflagsBits bits) => (int)bits & Arithmetic;

    private static int ToRflags(int bits) =>
        ((bits & (int)RflagsBits.CF) != 0 ? 0x1 : 0) | ((bits & (int)RflagsBits.PF) != 0 ? 0x4 : 0) | ((bits & (int)RflagsBits.AF) != 0 ? 0x10 : 0)
        | ((bits & (int)RflagsBits.ZF) != 0 ? 0x40 : 0) | ((bits & (int)RflagsBits.SF) != 0 ? 0x80 : 0) | ((bits & (int)RflagsBits.OF) != 0 ? 0x800 : 0);

    private static string Describe(ulong[] gprs, ulong rflags, ulong rip, byte[] scratch, int? vector) =>
        string.Create(CultureInfo.InvariantCulture, $"vector {vector?.ToString(CultureInfo.InvariantCulture) ?? "-"} rip {rip:x} rflags {rflags & 0xCD5:x} {string.Join(' ', gprs.Select(g => g.ToString("x", CultureInfo.InvariantCulture)))} {Convert.ToHexStringLower(scratch)}");

    private static byte[] Generate(Random rng, bool forRealCpu = false)
    {
        var a = new Assembler(64);
        int length = rng.Next(4, 24);
        for (int n = 0; n < length; n++)
        {
            if (!forRealCpu && rng.Next(60) == 0)
            {
                // A load from an unmapped page: #PF, whose frame holds RFLAGS as the faulting instruction saw them.
                a.mov(rax, __qword_ptr[Unmapped + (ulong)rng.Next(0, 4096)]);
                break;
            }

            Emit(a, rng, forRealCpu);
        }

        var stream = new MemoryStream();
        a.Assemble(new StreamCodeWriter(stream), LongModeMachine.CodeAddress);
        return stream.ToArray();
    }

    /// <param name="deterministic">Leave out PUSHFQ (IF and RF differ between harnesses) and RDTSC.</param>
    private static void Emit(Assembler a, Random rng, bool deterministic)
    {
        int bits = Bits[rng.Next(4)];
        var r1 = Gpr(bits, rng);
        var r2 = Gpr(bits, rng);
        var mem = new MemoryOperand(Register.RSI, rng.Next(0, 25) * 8);
        int kind = rng.Next(21);
        if (deterministic && kind is 14 or 16)
        {
            kind = 0;
        }

        switch (kind)
        {
            case 0 or 1:
                Add(a, Instruction.Create(CodeOf($"{AluOps[rng.Next(9)]}_rm{bits}_r{bits}"), r1, r2));
                break;
            case 2:
            {
                string op = AluOps[rng.Next(9)];
                int immBits = bits == 64 ? 32 : bits;
                Add(a, rng.Next(3) == 0 && bits > 8 && op != "Test"
                    ? Instruction.Create(CodeOf($"{op}_rm{bits}_imm8"), r1, rng.Next(-128, 128))
                    : Instruction.Create(CodeOf($"{op}_rm{bits}_imm{immBits}"), r1, Immediate(immBits, rng)));
                break;
            }

            case 3:
            {
                string op = AluOps[rng.Next(9)];
                Add(a, rng.Next(2) == 0 || op == "Test"
                    ? Instruction.Create(CodeOf($"{op}_rm{bits}_r{bits}"), mem, r1)
                    : Instruction.Create(CodeOf($"{op}_r{bits}_rm{bits}"), r1, mem));
                break;
            }

            case 4:
            {
                string op = new[] { "Inc", "Dec", "Neg", "Not" }[rng.Next(4)];
                Add(a, rng.Next(3) == 0 ? Instruction.Create(CodeOf($"{op}_rm{bits}"), mem) : Instruction.Create(CodeOf($"{op}_rm{bits}"), r1));
                break;
            }

            case 5:
            {
                // A memory destination a third of the time: compiled with live flags, its store precedes RFLAGS.
                string op = ShiftOps[rng.Next(ShiftOps.Length)];
                bool toMemory = rng.Next(3) == 0;
                Add(a, rng.Next(3) switch
                {
                    0 => toMemory ? Instruction.Create(CodeOf($"{op}_rm{bits}_CL"), mem, Register.CL) : Instruction.Create(CodeOf($"{op}_rm{bits}_CL"), r1, Register.CL),
                    1 => toMemory ? Instruction.Create(CodeOf($"{op}_rm{bits}_1"), mem, 1) : Instruction.Create(CodeOf($"{op}_rm{bits}_1"), r1, 1),
                    _ => toMemory ? Instruction.Create(CodeOf($"{op}_rm{bits}_imm8"), mem, rng.Next(0, 70)) : Instruction.Create(CodeOf($"{op}_rm{bits}_imm8"), r1, rng.Next(0, 70)),
                });
                break;
            }

            case 6:
                int wide = bits == 8 ? 32 : bits;
                Add(a, rng.Next(3) switch
                {
                    0 => Instruction.Create(CodeOf($"Imul_r{wide}_rm{wide}"), Gpr(wide, rng), Gpr(wide, rng)),
                    1 => Instruction.Create(CodeOf($"Imul_r{wide}_rm{wide}"), Gpr(wide, rng), mem),
                    _ => Instruction.Create(CodeOf($"Imul_r{wide}_rm{wide}_imm8"), Gpr(wide, rng), Gpr(wide, rng), rng.Next(-128, 128)),
                });
                break;
            case 7:
                Add(a, Instruction.Create(CodeOf($"Set{Conditions[rng.Next(16)]}_rm8"), Gpr(8, rng)));
                break;
            case 8:
            {
                int cb = bits == 8 ? 64 : bits;
                Add(a, Instruction.Create(CodeOf($"Cmov{Conditions[rng.Next(16)]}_r{cb}_rm{cb}"), Gpr(cb, rng), Gpr(cb, rng)));
                break;
            }

            case 9:
                Add(a, rng.Next(4) switch
                {
                    0 => Instruction.Create(Code.Movzx_r32_rm8, Gpr(32, rng), Gpr(8, rng)),
                    1 => Instruction.Create(Code.Movsx_r64_rm16, Gpr(64, rng), Gpr(16, rng)),
                    2 => Instruction.Create(Code.Movsxd_r64_rm32, Gpr(64, rng), Gpr(32, rng)),
                    _ => Instruction.Create(Code.Movzx_r64_rm16, Gpr(64, rng), mem),
                });
                break;
            case 10:
                Add(a, Instruction.Create(bits == 32 ? Code.Lea_r32_m : Code.Lea_r64_m, Gpr(bits == 32 ? 32 : 64, rng),
                    new MemoryOperand(Gpr(64, rng), Gpr(64, rng), 1 << rng.Next(4), rng.Next(-1000, 1000), 8)));
                break;
            case 11:
                Add(a, rng.Next(4) switch
                {
                    0 => Instruction.Create(Code.Mov_r64_imm64, Gpr(64, rng), (ulong)rng.NextInt64()),
                    1 => Instruction.Create(CodeOf($"Mov_rm{bits}_r{bits}"), mem, r1),
                    2 => Instruction.Create(CodeOf($"Mov_r{bits}_rm{bits}"), r1, mem),
                    _ => Instruction.Create(CodeOf($"Mov_rm{bits}_r{bits}"), r1, r2),
                });
                break;
            case 12:
                Add(a, Instruction.Create(Code.Push_r64, Gpr(64, rng)));
                Add(a, Instruction.Create(Code.Pop_r64, Gpr(64, rng)));
                break;
            case 13:
            {
                // A forward branch over one instruction: two blocks, the second entered either way.
                var skip = a.CreateLabel();
                switch (rng.Next(4))
                {
                    case 0: a.je(skip); break;
                    case 1: a.jl(skip); break;
                    case 2: a.jbe(skip); break;
                    default: a.jg(skip); break;
                }

                Add(a, Instruction.Create(CodeOf($"{AluOps[rng.Next(9)]}_rm{bits}_r{bits}"), r1, r2));
                a.Label(ref skip);
                a.nop();
                break;
            }

            case 14:
                a.pushfq();
                Add(a, Instruction.Create(Code.Pop_r64, Gpr(64, rng)));
                break;
            case 15:
                Add(a, Instruction.Create(new[] { Code.Cqo, Code.Cdqe, Code.Cdq }[rng.Next(3)]));
                break;
            case 16:
                // RDTSC ticks once per retired instruction: compiled code must count the block's earlier ones.
                Add(a, Instruction.Create(Code.Rdtsc));
                break;
            case 17:
            {
                // One-operand MUL/IMUL/DIV/IDIV on RAX:RDX, from a register or memory; a zero or too small
                // divisor raises #DE.
                string op = new[] { "Mul", "Imul", "Div", "Idiv" }[rng.Next(4)];
                Add(a, rng.Next(3) == 0 ? Instruction.Create(CodeOf($"{op}_rm{bits}"), mem) : Instruction.Create(CodeOf($"{op}_rm{bits}"), r1));
                break;
            }

            case 18:
            {
                // BT* on a register or on memory with an immediate offset; bit scans from a register or memory.
                int w = bits == 8 ? 32 : bits;
                var src = rng.Next(3) == 0 ? (object)mem : Gpr(w, rng);
                string bt = new[] { "Bt", "Bts", "Btr", "Btc" }[rng.Next(4)];
                string scan = new[] { "Bsf", "Bsr", "Tzcnt", "Lzcnt", "Popcnt" }[rng.Next(5)];
                Add(a, rng.Next(4) switch
                {
                    0 => Instruction.Create(CodeOf($"{bt}_rm{w}_r{w}"), Gpr(w, rng), Gpr(w, rng)),
                    1 => src is MemoryOperand m ? Instruction.Create(CodeOf($"{bt}_rm{w}_imm8"), m, rng.Next(0, 256)) : Instruction.Create(CodeOf($"{bt}_rm{w}_imm8"), (Register)src, rng.Next(0, 256)),
                    _ => src is MemoryOperand m2 ? Instruction.Create(CodeOf($"{scan}_r{w}_rm{w}"), Gpr(w, rng), m2) : Instruction.Create(CodeOf($"{scan}_r{w}_rm{w}"), Gpr(w, rng), (Register)src),
                });
                break;
            }

            case 19:
            {
                // A string instruction over the scratch buffer, with REP (or REPE/REPNE for CMPS/SCAS) about half
                // the time, and a count of 0 now and then.
                a.push(rsi);
                a.lea(rdi, __[rsi + rng.Next(0, 100)]);
                a.lea(rsi, __[rsi + rng.Next(0, 100)]);
                a.mov(ecx, rng.Next(0, 6) == 0 ? 0 : rng.Next(1, 20));
                int form = rng.Next(20);
                var prefixed = rng.Next(3) switch { 0 => a, 1 => form >= 12 ? a.repe : a.rep, _ => form >= 12 ? a.repne : a.rep };
                Action<Assembler> emit = form switch
                {
                    0 => x => x.movsb(), 1 => x => x.movsw(), 2 => x => x.movsd(), 3 => x => x.movsq(),
                    4 => x => x.stosb(), 5 => x => x.stosw(), 6 => x => x.stosd(), 7 => x => x.stosq(),
                    8 => x => x.lodsb(), 9 => x => x.lodsw(), 10 => x => x.lodsd(), 11 => x => x.lodsq(),
                    12 => x => x.cmpsb(), 13 => x => x.cmpsw(), 14 => x => x.cmpsd(), 15 => x => x.cmpsq(),
                    16 => x => x.scasb(), 17 => x => x.scasw(), 18 => x => x.scasd(), _ => x => x.scasq(),
                };
                emit(prefixed);
                a.pop(rsi);
                break;
            }

            default:
                // BT writes CF only; ADC reads it.
                Add(a, Instruction.Create(Code.Bt_rm64_r64, Gpr(64, rng), Gpr(64, rng)));
                Add(a, Instruction.Create(Code.Adc_rm32_r32, Gpr(32, rng), Gpr(32, rng)));
                break;
        }
    }

    private static void Add(Assembler a, Instruction i) => a.AddInstruction(i);

    private static Code CodeOf(string name) => Enum.Parse<Code>(name);

    private static Register Gpr(int bits, Random rng)
    {
        int index = Gprs[rng.Next(Gprs.Length)];
        return bits switch
        {
            // Without REX, encodings 4-7 of the byte registers are AH-BH: draw only from those that always exist.
            8 => index < 4 ? Register.AL + index : index >= 8 ? Register.R8L + (index - 8) : Register.BL,
            16 => Register.AX + index,
            32 => Register.EAX + index,
            _ => Register.RAX + index,
        };
    }

    private static int Immediate(int bits, Random rng) => bits switch
    {
        8 => rng.Next(0, 256),
        16 => rng.Next(0, 65536),
        _ => (int)(uint)Interesting(rng),
    };
}
