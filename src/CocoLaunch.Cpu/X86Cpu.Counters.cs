using Iced.Intel;

namespace CocoLaunch.Cpu;

/// <summary>What the CPU spent its work on: how much ran compiled, and what made it decode, compile or flush.</summary>
/// <param name="InstructionsInCompiledBlocks">Instructions retired by compiled blocks, the ones they hand to the interpreter included.</param>
/// <param name="InstructionsHandedToInterpreter">Of those, the ones a compiled block ran through the interpreter (forms the compiler leaves to it).</param>
/// <param name="CodeCacheDrops">Times the block cache was full and dropped every block.</param>
/// <param name="HandedOffForms">The instruction forms compiled blocks handed to the interpreter most, most frequent first.</param>
public sealed record CpuCounters(long InstructionsInCompiledBlocks, long BlocksDecoded, long BlocksCompiled, long CodeInvalidations, long TlbFlushes,
    long BlocksChained = 0, long InstructionsHandedToInterpreter = 0, long CodeCacheDrops = 0, IReadOnlyList<(Code Form, long Count)>? HandedOffForms = null)
{
    /// <summary>The share of <paramref name="retired"/> instructions that ran as compiled code (not handed to the interpreter).</summary>
    public double CompiledShare(long retired) => retired == 0 ? 0 : (double)(InstructionsInCompiledBlocks - InstructionsHandedToInterpreter) / retired;
}

public sealed partial class X86Cpu
{
    private long instructionsCompiled, instructionsHandedOff, blocksDecoded, codeInvalidations, tlbFlushes, codeCacheDrops;

    // Hand-offs by Iced Code: what the compiler still leaves to the interpreter, and how often it runs.
    private readonly long[] handedOffForms = new long[Enum.GetValues<Code>().Length];

    /// <summary>The counters so far, with the <paramref name="forms"/> forms most handed to the interpreter.</summary>
    public CpuCounters CountersWith(int forms) => new(instructionsCompiled, blocksDecoded, BlocksCompiled, codeInvalidations, tlbFlushes, blocksChained,
        instructionsHandedOff, codeCacheDrops, [.. handedOffForms.Select((n, code) => ((Code)code, n)).Where(f => f.n > 0).OrderByDescending(f => f.n).Take(forms)]);

    /// <summary>The counters so far.</summary>
    public CpuCounters Counters => CountersWith(8);
}
