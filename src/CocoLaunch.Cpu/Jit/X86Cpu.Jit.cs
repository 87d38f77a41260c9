using System.Runtime.CompilerServices;
using CocoLaunch.Cpu.Jit;
using Iced.Intel;

namespace CocoLaunch.Cpu;

/// <summary>
/// Running compiled blocks (Jit/BlockCompiler.cs), and the small entry points the compiled code calls. A block
/// is compiled once it has run <see cref="JitThreshold"/> times in full; until then, and whenever the budget
/// would stop it part-way, the interpreter runs it.
/// </summary>
public sealed partial class X86Cpu
{
    // Index in its block of the instruction compiled code is running, stored before anything that can fault, so a
    // fault knows how many instructions retired before it.
#pragma warning disable CS0649 // written by compiled blocks (IL stfld), never by C#
    private int jitIndex;
#pragma warning restore CS0649

    /// <summary>
    /// Runs of a whole block before it is compiled to IL; 0 compiles at once, <see cref="int.MaxValue"/> never.
    /// RyuJIT takes about a millisecond per block, so compiling pays only for code that runs hundreds of times. On
    /// the Linux boot (2.0 billion instructions, 78,000 blocks decoded), compiling on the vCPU's thread at 16 runs
    /// compiled 25,500 blocks and spent half of 44 s in the JIT; at 2,000 runs, 3,700 blocks and 17 s. Compiling in
    /// the background: 16.3 s at 200 runs (9,800 blocks, 89 % of instructions compiled), 14.3 s at 500, 13.2 s at
    /// 1,000 (5,000 blocks, 94 %), 14.5 s at 3,000.
    /// Where the runtime cannot make code at run time (NativeAOT: <see cref="RuntimeFeature.IsDynamicCodeSupported"/>
    /// is false) nothing is compiled, whatever the threshold says: every block is interpreted, with the same results.
    /// </summary>
    public int JitThreshold
    {
        get => jitThreshold;
        set => jitThreshold = RuntimeFeature.IsDynamicCodeSupported ? value : int.MaxValue;
    }

    private int jitThreshold = RuntimeFeature.IsDynamicCodeSupported ? DefaultJitThreshold : int.MaxValue;

    public const int DefaultJitThreshold = 1000;

    /// <summary>Blocks compiled so far.</summary>
    public int BlocksCompiled { get; private set; }

    /// <summary>
    /// Whether hot blocks compile on the background compiler's thread (the default) or on the vCPU's own when they
    /// become hot. A threshold of 0 always compiles at once, so tests see compiled code on a block's first run.
    /// </summary>
    public bool CompileInBackground { get; set; } = true;

    /// <summary>The compiled block for a full run of <paramref name="block"/>, compiling it when it has become hot.</summary>
    private Func<X86Cpu, int>? CompiledFor(Block block)
    {
        if (block.Compiled is { } code)
        {
            return code;
        }

        // IsDynamicCodeSupported is already in JitThreshold; it is tested here again, where the compiler is called,
        // because that is the guard the AOT compiler recognises: it then leaves BlockCompiler out, with no IL3050.
        if (!RuntimeFeature.IsDynamicCodeSupported || JitThreshold == int.MaxValue || block.Queued || ++block.Executions <= JitThreshold)
        {
            return null;
        }

        BlocksCompiled++;
        if (JitThreshold == 0 || !CompileInBackground)
        {
            block.CompiledCode = BlockCompiler.Compile(block);
            return block.CompiledCode;
        }

        block.Queued = true;
        BackgroundCompiler.Enqueue(block);
        return null;
    }

    /// <summary>An instruction the compiler leaves to the interpreter; true when the block must stop after it.</summary>
    internal bool JitInterpret(ref Instruction i)
    {
        // Compiled code counts its block's instructions at the end; RDTSC counts in ticks of retired
        // instructions, so the ones before this one must show while it runs.
        long counted = retired;
        retired += jitIndex;
        instructionsHandedOff++;
        handedOffForms[(int)i.Code]++;
        try
        {
            Execute(ref i);
        }
        finally
        {
            retired = counted;
        }

        return blockEnded | pendingExit is not null | mmioWritten is not null;
    }

    /// <summary>After a compiled memory write: true when it reached MMIO or a page with decoded code.</summary>
    internal bool JitWriteStops => blockEnded | mmioWritten is not null;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal bool JitCondition(ConditionCode cc) => Condition(cc);

    // Helpers compiled code calls are optimized at once (AggressiveOptimization): a DynamicMethod compiled while
    // one was still at tier 0 went on calling its tier-0 code (bench16m-gpr showed ImulValue [QuickJitted]).
    // The memory accesses compiled blocks make when their inline TLB lookup misses (BlockCompiler.EmitTlbHit), or
    // for segments with a base or limit. Not inlined: every block carries one call per access instead of the
    // whole slow path, which more than halved RyuJIT's time per block on the Linux boot.

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    internal ulong JitRead1(SegmentName seg, ulong offset) => ReadLinear(Linear(seg, offset, 1), 1);

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    internal ulong JitRead2(SegmentName seg, ulong offset) => ReadLinear(Linear(seg, offset, 2), 2);

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    internal ulong JitRead4(SegmentName seg, ulong offset) => ReadLinear(Linear(seg, offset, 4), 4);

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    internal ulong JitRead8(SegmentName seg, ulong offset) => ReadLinear(Linear(seg, offset, 8), 8);

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    internal void JitWrite1(SegmentName seg, ulong offset, ulong value) => WriteLinear(Linear(seg, offset, 1), 1, value);

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    internal void JitWrite2(SegmentName seg, ulong offset, ulong value) => WriteLinear(Linear(seg, offset, 2), 2, value);

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    internal void JitWrite4(SegmentName seg, ulong offset, ulong value) => WriteLinear(Linear(seg, offset, 4), 4, value);

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    internal void JitWrite8(SegmentName seg, ulong offset, ulong value) => WriteLinear(Linear(seg, offset, 8), 8, value);
}
