namespace CocoLaunch.Cpu;

/// <summary>What the CPU spent its work on: how much ran compiled, and what made it decode, compile or flush.</summary>
public sealed record CpuCounters(long InstructionsCompiled, long BlocksDecoded, long BlocksCompiled, long CodeInvalidations, long TlbFlushes, long BlocksChained = 0)
{
    /// <summary>The share of <paramref name="retired"/> instructions that ran in compiled blocks.</summary>
    public double CompiledShare(long retired) => retired == 0 ? 0 : (double)InstructionsCompiled / retired;
}

public sealed partial class X86Cpu
{
    private long instructionsCompiled, blocksDecoded, codeInvalidations, tlbFlushes;

    /// <summary>The counters so far.</summary>
    public CpuCounters Counters => new(instructionsCompiled, blocksDecoded, BlocksCompiled, codeInvalidations, tlbFlushes, blocksChained);
}
