using System.Globalization;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace CocoLaunch.Cpu.Tests;

/// <summary>
/// User-mode instructions glibc and gcc code run that the random generators do not draw, against the host CPU
/// through KVM (cpu-emulator.md §6.4): registers, status flags, RIP, the exception vector and the scratch page.
/// </summary>
public sealed class UserInstructionDifferentialTests
{
    public static TheoryData<string> Cases() => [.. Snippets.Keys];

    private static readonly Dictionary<string, Action<Assembler>> Snippets = new()
    {
        ["movbe"] = a =>
        {
            a.movbe(rax, __qword_ptr[rsi]);
            a.movbe(__dword_ptr[rsi + 8], ebx);
            a.movbe(cx, __word_ptr[rsi + 16]);
            a.movbe(__qword_ptr[rsi + 24], rdx);
            a.movbe(edi, __dword_ptr[rsi + 32]);
        },
        // libgcc's unwinder asks for the shadow stack pointer; without CET it is a NOP and RAX stays 0.
        ["rdsspq"] = a =>
        {
            a.xor(eax, eax);
            a.rdsspq(rax);
            a.rdsspd(ebx);
        },
        ["fninit-fnclex"] = a =>
        {
            a.fninit(); // the harness's vCPU keeps x87 state from run to run
            a.fnclex();
            a.fnstsw(ax);
            a.fnstcw(__word_ptr[rsi + 40]);
        },
        ["movbe-unmapped"] = a =>
        {
            a.mov(rsi, 0x4000_0000);
            a.movbe(__qword_ptr[rsi], rax);
        },
    };

    [KvmTheory]
    [MemberData(nameof(Cases))]
    public void Snippet_MatchesTheRealCpu(string name)
    {
        var a = new Assembler(64);
        Snippets[name](a);
        var stream = new MemoryStream();
        a.Assemble(new StreamCodeWriter(stream), RealCpu.CodeAddress);
        byte[] code = stream.ToArray();
        var rng = new Random(name.Length);
        var input = new RealCpuInput();
        for (int r = 0; r < 16; r++)
        {
            input.Gprs[r] = JitDifferentialTests.Interesting(rng);
        }

        input.Gprs[4] = RealCpu.StackTop;
        input.Gprs[6] = RealCpu.ScratchAddress;
        rng.NextBytes(input.Scratch.AsSpan(0, 256));
        var real = RealCpu.Shared!.Run(code, input);

        using var m = new LongModeMachine();
        VectorReplayTests.InstallExceptionHandlers(m);
        input.Gprs.CopyTo(m.State.Gpr, 0);
        m.State.Rflags = input.Rflags;
        m.Ram.Write(LongModeMachine.ScratchAddress, input.Scratch.AsSpan(0, 256).ToArray());
        var exit = m.RunBytes(code);
        int? vector = UserModeMachine.Vector(exit);
        ulong rip = vector is { } v ? BitConverter.ToUInt64(m.Ram.Read(m.State.Gpr[4] + (Cpu.Vector.HasErrorCode(v) ? 8UL : 0), 8)) : m.State.Rip;

        Assert.Equal(Describe(real.Gprs, real.Rflags, real.Rip, real.ExceptionVector, real.Scratch.AsSpan(0, 256).ToArray(), vector is null),
            Describe(m.State.Gpr, m.State.Rflags, rip, vector, m.Ram.Read(LongModeMachine.ScratchAddress, 256), vector is null));
    }

    // After a fault RSP is the handler's, which differs between the harnesses by design: compare it only on success.
    private static string Describe(ulong[] gprs, ulong rflags, ulong rip, int? vector, byte[] scratch, bool withRsp) => string.Create(CultureInfo.InvariantCulture,
        $"vector {vector?.ToString(CultureInfo.InvariantCulture) ?? "-"} rip {rip:x} rflags {rflags & 0x8D5:x} {string.Join(' ', gprs.Select((g, n) => n == 4 && !withRsp ? "-" : g.ToString("x", CultureInfo.InvariantCulture)))} {Convert.ToHexStringLower(scratch)}");
}
