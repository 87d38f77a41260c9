using Iced.Intel;

namespace CocoLaunch.Cpu;

/// <summary>Which vendor's decoding rules apply (cpu-emulator.md §1.2): AMD for SNP guests, Intel for TDX.</summary>
public enum CpuVendor
{
    Intel,
    Amd,
}

/// <summary>
/// One x86-64 logical processor: decodes with Iced into cached blocks, interprets them, delivers exceptions
/// through the IVT/IDT, and stops with a <see cref="CpuExit"/> whenever only the platform can go on.
/// </summary>
public sealed unsafe partial class X86Cpu : IGuestCpu
{
    private readonly IPlatform platform;
    private readonly GuestCodeReader reader;
    private readonly Decoder[] decoders = new Decoder[3];
    private int bitness;
    private CpuExit? lastExit;
    private CpuExit? pendingExit;
    private ulong instructionRip;

    public X86Cpu(IPlatform platform, CpuState state, CpuVendor vendor = CpuVendor.Intel)
    {
        this.platform = platform;
        State = state;
        Vendor = vendor;
        reader = new GuestCodeReader(this);
        var options = vendor == CpuVendor.Amd ? DecoderOptions.AMD : DecoderOptions.None;
        decoders[0] = Decoder.Create(16, reader, options: options);
        decoders[1] = Decoder.Create(32, reader, options: options);
        decoders[2] = Decoder.Create(64, reader, options: options);
    }

    public CpuState State { get; }

    public CpuVendor Vendor { get; }

    /// <summary>Instructions retired since the CPU was created (a REP instruction counts once).</summary>
    public long InstructionsRetired => retired;

    private long retired;

    /// <summary>
    /// Runs until an exit or until <paramref name="maxInstructions"/> have retired. Guest faults are delivered
    /// to the guest; nothing the guest does makes this method throw.
    /// </summary>
    public CpuExit Run(long maxInstructions)
    {
        long budget = maxInstructions;
        chainFrom = null; // the platform may have moved RIP or changed the mode since
        while (true)
        {
            if (pendingExit is { } exit)
            {
                pendingExit = null;
                // The instruction behind the exit, for a platform that turns it into a fault (TDX #VE, SNP #VC).
                LastExitInstruction = (instructionRip, (int)((State.Rip - instructionRip) & ipMask));
                return lastExit = exit;
            }

            if (budget <= 0)
            {
                return lastExit = new CpuExit.InstructionLimit();
            }

            switch (StepTowardInterruptWindow(ref budget))
            {
                case WindowStep.Open:
                    return lastExit = new CpuExit.InterruptWindow();
                case WindowStep.Shadowed:
                    continue;
            }

            try
            {
                budget -= RunBlock(budget);
            }
            catch (PlatformStop stop)
            {
                // Stopped while delivering an exception (a stack or IDT page the platform must fix first):
                // Deliver put the state back, and the faulting instruction runs again.
                blockEnded = false;
                return lastExit = new CpuExit.Stopped(stop.Reason);
            }
        }
    }

    /// <summary>
    /// Where the instruction behind the last port, MMIO or HLT exit started, and its length (after a branch the
    /// length is meaningless; those exits come from straight-line instructions).
    /// </summary>
    public (ulong Rip, int Length) LastExitInstruction { get; private set; }

    /// <summary>
    /// Raises <paramref name="vector"/> as a fault on the instruction behind the last exit: RIP goes back to it
    /// and the exception is delivered, as TDX delivers #VE for IN/OUT or MMIO instead of exiting.
    /// </summary>
    public void InjectFaultAtLastExit(int vector, uint? errorCode)
    {
        State.Rip = LastExitInstruction.Rip;
        InjectException(vector, errorCode);
    }

    /// <summary>Writes the value of the <see cref="CpuExit.PortIn"/> just returned into AL/AX/EAX (or memory for INS).</summary>
    public void CompletePortIn(uint value)
    {
        if (lastExit is not CpuExit.PortIn pin)
        {
            throw new InvalidOperationException("the last exit was not a port read");
        }

        CompletePortInCore(pin, value);
        lastExit = null;
    }

    /// <summary>
    /// Delivers <paramref name="vector"/> to the guest before its next instruction, e.g. a #VE or #VC for the
    /// instruction an exit reported. With <paramref name="atInstruction"/> the return address is that
    /// instruction (a fault), otherwise the one after it (a trap).
    /// </summary>
    public void InjectException(int vector, uint? errorCode, CpuExit.InstructionExit? atInstruction = null)
    {
        if (atInstruction is not null)
        {
            State.Rip = atInstruction.Rip;
        }

        UpdateMode();
        try
        {
            Deliver(vector, errorCode, State.Rip, isSoftware: false);
        }
        catch (GuestFault)
        {
            // The injected exception could not be delivered even as #DF: the next Run reports the shutdown.
            pendingExit = new CpuExit.Shutdown($"triple fault delivering injected vector {vector} at 0x{State.Rip:x}");
        }
        catch (PlatformStop stop)
        {
            // Delivering it touched a page the platform stops (the state is as before): the platform hears of it
            // on the next Run, and must inject again once it has dealt with the page.
            pendingExit = new CpuExit.Stopped(stop.Reason);
        }
    }

    /// <summary>Recomputes the code size after a mode change (CR0, EFER, CS, state loaded by the platform).</summary>
    internal void UpdateMode()
    {
        bitness = State.Bitness;
        ipMask = bitness == 64 ? ulong.MaxValue : bitness == 32 ? 0xFFFF_FFFF : 0xFFFF;
        // CR0.AM, RFLAGS.AC and CPL 3 arm #AC. RFLAGS.AC changes only in instructions that end a block (POPF,
        // IRET, exception delivery), and every block starts here.
        alignmentChecks = (State.Cr0 & CpuState.Cr0Am) != 0 && (State.SystemFlags & CpuState.FlagAc) != 0 && State.Cpl == 3;
        checkEveryAccess = alignmentChecks || implicitSupervisor;
    }

    private bool alignmentChecks;

    private int RunBlock(long budget)
    {
        UpdateMode();
        Block block;
        try
        {
            block = FetchBlock();
        }
        catch (GuestFault f)
        {
            chainFrom = null;
            DeliverFault(f, State.Rip);
            return 1;
        }
        catch (PlatformFault f)
        {
            chainFrom = null;
            DeliverFault(new GuestFault(f.Vector, f.ErrorCode), State.Rip);
            return 1;
        }
        catch (PlatformStop stop)
        {
            chainFrom = null;
            // Fetching the block's first instruction touched a page the platform must deal with first.
            pendingExit = new CpuExit.Stopped(stop.Reason);
            return 0;
        }

        if (chainFrom is not null)
        {
            Link(block);
        }

        int done = 0;
        var instructions = block.Instructions;
        int count = Math.Min(block.Count, (int)Math.Min(budget, int.MaxValue));
        if (count == block.Count && CompiledFor(block) is { } code)
        {
            return RunChain(block, code, budget);
        }

        // One protected region per block, not per instruction: the JIT keeps the loop's locals in registers.
        try
        {
            for (int i = 0; i < count; i++)
            {
                ref var instr = ref instructions[i];
                instructionRip = instr.IP;
                State.Rip = instr.NextIP & ipMask;
                Execute(ref instr);
                done++;
                retired++;
                if (mmioWritten is { } written)
                {
                    mmioWritten = null;
                    pendingExit ??= written;
                }

                if (blockEnded | pendingExit is not null)
                {
                    blockEnded = false;
                    break;
                }
            }
        }
        catch (GuestFault f)
        {
            blockEnded = false;
            DeliverFault(f, instructionRip);
            return done + 1;
        }
        catch (MmioReadPending m)
        {
            blockEnded = false;
            State.Rip = instructionRip;
            pendingExit = m.Exit;
            return done;
        }
        catch (PlatformFault f)
        {
            blockEnded = false;
            DeliverFault(new GuestFault(f.Vector, f.ErrorCode), instructionRip);
            return done + 1;
        }
        catch (PlatformStop stop)
        {
            blockEnded = false;
            State.Rip = instructionRip;
            pendingExit = new CpuExit.Stopped(stop.Reason);
            return done;
        }

        return Math.Max(done, 1);
    }

    private bool blockEnded;

    private ulong ipMask = 0xFFFF;

    /// <summary>Ends the current block after this instruction: control flow or processor mode changed.</summary>
    private void EndBlock() => blockEnded = true;

    private void Exit(CpuExit exit)
    {
        pendingExit = exit;
        EndBlock();
    }
}
