using Iced.Intel;

namespace CocoLaunch.Cpu;

/// <summary>A run of decoded instructions from one linear address, valid while its code page is unchanged.</summary>
internal sealed class Block(Instruction[] instructions, int count, ulong gpa, ulong lastGpa, int generation)
{
    public ulong Linear { get; init; }

    public ulong CsBase { get; init; }

    public int Bitness { get; init; }

    /// <summary>The CPU-wide code generation at which this block was last known valid (a fast-path check).</summary>
    public int CheckedAt { get; set; } = -1;

    public Instruction[] Instructions { get; } = instructions;

    public int Count { get; } = count;

    /// <summary>Physical page(s) the bytes came from (the second differs only for a page-crossing last instruction).</summary>
    public ulong Gpa { get; } = gpa;

    public ulong LastGpa { get; } = lastGpa;

    public int Generation { get; } = generation;

    /// <summary>Full runs so far, until the block is compiled.</summary>
    public int Executions { get; set; }

    /// <summary>The block compiled to IL (Jit/BlockCompiler.cs), once it is hot; written by the background compiler.</summary>
    public Func<X86Cpu, int>? CompiledCode;

    public Func<X86Cpu, int>? Compiled => Volatile.Read(ref CompiledCode);

    /// <summary>Handed to the background compiler: the interpreter runs it until its code is ready.</summary>
    public bool Queued { get; set; }

    /// <summary>
    /// Whether a full run leaves the mode, CS and CPL as they were: the block ends in a near branch or merely at
    /// its length or page limit, so its successor can be run without the dispatcher (Jit/X86Cpu.Chain.cs).
    /// </summary>
    public bool Chainable { get; init; }

    /// <summary>The linear address after the last instruction: the fall-through successor's.</summary>
    public ulong EndLinear { get; init; }

    // Successor links (QEMU's goto_tb jump slots): the block that ran next at the fall-through address and at the
    // last other one, each valid while the TLB generation it was made at holds.
    public Block? FallThrough, Taken;
    public int FallThroughTlb, TakenTlb;
}

/// <summary>The decoded-block cache: keyed by (linear RIP, CS base, code size), checked against page generations.</summary>
public sealed unsafe partial class X86Cpu
{
    private const int MaxBlockInstructions = 64;
    private readonly Dictionary<(ulong Linear, ulong CsBase, int Bitness), Block> blocks = [];
    private readonly Dictionary<ulong, int> frameGeneration = [];
    private readonly Instruction[] decodeBuffer = new Instruction[MaxBlockInstructions];
    private int codeGeneration;

    private const int JumpCacheSize = 4096;
    private readonly Block?[] jumpCache = new Block?[JumpCacheSize];

    private Block FetchBlock()
    {
        ulong csBase = bitness == 64 ? 0 : State.Cs.Base;
        ulong linear = (csBase + State.Rip) & (bitness == 64 ? ulong.MaxValue : 0xFFFF_FFFF);
        if (bitness == 64 && !IsCanonical(linear))
        {
            // Reached by AMD's SYSRET, IRETQ or a far return to a non-canonical RIP: the fetch faults, at the new CPL.
            throw GuestFault.Gp();
        }

        ulong gpa = FetchGpa(linear);
        // A direct-mapped cache in front of the dictionary; until some code page is written (codeGeneration
        // moves), a block that was valid stays valid, so the common case is a few compares.
        int slot = (int)((linear ^ (linear >> 12)) & (JumpCacheSize - 1));
        var block = jumpCache[slot];
        if (block is not null && block.Linear == linear && block.CsBase == csBase && block.Bitness == bitness && block.Gpa == (gpa & ~0xFFFUL))
        {
            if (block.CheckedAt == codeGeneration || IsCurrent(block))
            {
                return block;
            }
        }

        var key = (linear, csBase, bitness);
        if (!blocks.TryGetValue(key, out block) || block.Gpa != (gpa & ~0xFFFUL) || !IsCurrent(block))
        {
            block = Decode(linear, gpa);
            block.CheckedAt = codeGeneration;
            if (blocks.Count >= MaxCachedBlocks)
            {
                DropBlocks();
            }

            blocks[key] = block;
        }

        jumpCache[slot] = block;
        return block;
    }

    /// <summary>
    /// Blocks the cache holds before it drops them all, as QEMU flushes its whole translation cache when the code
    /// buffer fills: decoded instructions and compiled code stay bounded whatever the guest runs. The Linux boot
    /// decodes about 84,000 blocks, and a cap of 65,536 dropped them once, mid-boot, costing recompiles; a block is
    /// a few hundred bytes decoded and one to a few kilobytes compiled.
    /// </summary>
    internal int MaxCachedBlocks { get; set; } = 1 << 17;

    internal int CachedBlocks => blocks.Count;

    private void DropBlocks()
    {
        blocks.Clear();
        Array.Clear(jumpCache);
        chainFrom = null;
        codeCacheDrops++;
    }

    private bool IsCurrent(Block block)
    {
        if (block.Generation != GenerationOf(CodeFrameOf(block.Gpa)) || (block.LastGpa != block.Gpa && block.Generation != GenerationOf(CodeFrameOf(block.LastGpa))))
        {
            return false;
        }

        block.CheckedAt = codeGeneration;
        return true;
    }

    private int GenerationOf(ulong frame) => frameGeneration.TryGetValue(frame, out int g) ? g : 0;

    private ulong FetchGpa(ulong linear)
    {
        int i = (int)((linear >> 12) & (TlbSize - 1));
        if (tlbTag[(int)Access.Fetch][i] == ((linear & ~0xFFFUL) | 1))
        {
            return tlbGpa[(int)Access.Fetch][i] | (linear & 0xFFF);
        }

        ulong gpa = Translate(linear, Access.Fetch);
        if (FillTlb(linear, Access.Fetch, gpa) == null)
        {
            // Executing from MMIO is not supported by KVM either (it reports an emulation failure): #GP keeps it in the guest.
            throw GuestFault.Gp();
        }

        return gpa;
    }

    private Block Decode(ulong linear, ulong gpa)
    {
        blocksDecoded++;
        var decoder = decoders[bitness == 16 ? 0 : bitness == 32 ? 1 : 2];
        ulong startLinear = linear;
        ulong ip = State.Rip;
        ulong pageEnd = (linear | 0xFFF) + 1;
        ulong frame = gpa & ~0xFFFUL, lastFrame = frame;
        int count = 0;
        while (count < MaxBlockInstructions)
        {
            reader.Start(linear);
            decoder.IP = ip;
            decoder.Decode(out decodeBuffer[count]);
            ref var instr = ref decodeBuffer[count];
            if (reader.Fault is { } fault)
            {
                if (count == 0)
                {
                    throw fault;
                }

                break;
            }

            if (instr.IsInvalid)
            {
                if (count == 0)
                {
                    // An over-long instruction is #GP(0) on hardware; any other invalid encoding is #UD.
                    throw instr.Length >= 15 ? GuestFault.Gp() : GuestFault.Ud();
                }

                break;
            }

            count++;
            if (linear + (ulong)instr.Length > pageEnd)
            {
                lastFrame = reader.LastGpa & ~0xFFFUL;
            }

            if (EndsBlock(instr) || linear + (ulong)instr.Length >= pageEnd)
            {
                break;
            }

            linear += (ulong)instr.Length;
            ip = instr.NextIP;
        }

        AddCodeFrame(frame);
        AddCodeFrame(lastFrame);
        ref var last = ref decodeBuffer[count - 1];
        ulong csBase = bitness == 64 ? 0 : State.Cs.Base;
        return new Block(decodeBuffer[..count], count, frame, lastFrame, GenerationOf(CodeFrameOf(frame)))
        {
            Linear = startLinear,
            CsBase = csBase,
            Bitness = bitness,
            Chainable = !EndsBlock(last) || KeepsMode(last),
            EndLinear = (csBase + last.NextIP) & (bitness == 64 ? ulong.MaxValue : 0xFFFF_FFFF),
        };
    }

    /// <summary>
    /// Forgets every decoded and compiled block. The CPU sees its own writes to code; a platform that writes guest
    /// memory behind its back (a VMM loading an image, DMA) and then runs that memory as code must call this.
    /// </summary>
    public void FlushCodeCache()
    {
        blocks.Clear();
        Array.Clear(jumpCache);
        foreach (ulong frame in codeFrames)
        {
            frameGeneration[frame] = GenerationOf(frame) + 1;
        }

        codeFrames.Clear();
        codeGeneration++;
        FlushTlb(); // write TLB entries were withheld from code frames; they may now be filled
    }

    /// <summary>A write reached a page with decoded code: its blocks are stale (self-modifying code).</summary>
    private void InvalidateCode(ulong frame)
    {
        codeInvalidations++;
        frameGeneration[frame] = GenerationOf(frame) + 1;
        codeFrames.Remove(frame);
        codeGeneration++;
        // The writing block itself may be on this page: stop after the current instruction.
        EndBlock();
    }

    private static bool EndsBlock(in Instruction instr)
    {
        if (instr.FlowControl != FlowControl.Next)
        {
            return true;
        }

        switch (instr.Mnemonic)
        {
            case Mnemonic.Cpuid or Mnemonic.Rdmsr or Mnemonic.Wrmsr or Mnemonic.Hlt or Mnemonic.In or Mnemonic.Out
                or Mnemonic.Insb or Mnemonic.Insw or Mnemonic.Insd or Mnemonic.Outsb or Mnemonic.Outsw or Mnemonic.Outsd
                or Mnemonic.Pvalidate or Mnemonic.Rmpadjust or Mnemonic.Rdtsc or Mnemonic.Rdtscp or Mnemonic.Xgetbv
                or Mnemonic.Xsetbv or Mnemonic.Invlpg or Mnemonic.Wbinvd or Mnemonic.Lgdt or Mnemonic.Lidt or Mnemonic.Ltr
                or Mnemonic.Lldt or Mnemonic.Sti or Mnemonic.Popf or Mnemonic.Lmsw or Mnemonic.Clts or Mnemonic.Swapgs
                or Mnemonic.Syscall or Mnemonic.Sysret or Mnemonic.Sysretq or Mnemonic.Sysenter or Mnemonic.Sysexit
                or Mnemonic.Sysexitq or Mnemonic.Clac or Mnemonic.Stac or Mnemonic.Invpcid:
                return true;
            case Mnemonic.Mov:
                // MOV to CR/DR/Sreg changes translation or mode; MOV SS also blocks interrupts for one instruction.
                return instr.Op0Kind == OpKind.Register && (instr.Op0Register.IsCR() || instr.Op0Register.IsDR() || instr.Op0Register.IsSegmentRegister());
            case Mnemonic.Pop:
                return instr.Op0Kind == OpKind.Register && instr.Op0Register.IsSegmentRegister();
            default:
                return false;
        }
    }

    /// <summary>Near branches, calls and returns: they change RIP and RSP only, never the mode, CS or the CPL.</summary>
    private static bool KeepsMode(in Instruction instr) =>
        instr.FlowControl == FlowControl.ConditionalBranch || instr.IsJmpShortOrNear || instr.IsJmpNearIndirect || instr.IsCallNear
        || instr.IsCallNearIndirect || instr.Mnemonic == Mnemonic.Ret;

    /// <summary>Feeds Iced one instruction's bytes from guest memory, translating each page as it is reached.</summary>
    private sealed class GuestCodeReader(X86Cpu cpu) : CodeReader
    {
        private ulong next;
        private ulong pageLinear = ulong.MaxValue;
        private byte* page;
        private int served;

        public GuestFault? Fault { get; private set; }

        public ulong LastGpa { get; private set; }

        public void Start(ulong linear)
        {
            next = linear;
            served = 0;
            Fault = null;
            pageLinear = ulong.MaxValue;
        }

        public override int ReadByte()
        {
            if (served >= 15 || Fault is not null)
            {
                return -1;
            }

            ulong linear = cpu.bitness == 64 ? next : next & 0xFFFF_FFFF;
            if ((linear & ~0xFFFUL) != pageLinear)
            {
                try
                {
                    ulong gpa = cpu.FetchGpa(linear);
                    LastGpa = gpa;
                    int i = (int)((linear >> 12) & (TlbSize - 1));
                    page = (byte*)cpu.tlbHost[(int)Access.Fetch][i];
                    pageLinear = linear & ~0xFFFUL;
                }
                catch (GuestFault f)
                {
                    Fault = f;
                    return -1;
                }
            }

            next++;
            served++;
            return page[linear & 0xFFF];
        }
    }
}
