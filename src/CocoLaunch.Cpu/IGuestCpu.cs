namespace CocoLaunch.Cpu;

/// <summary>
/// A processor that KVM_RUN enters: the emulated x86 CPU, or a test's scripted guest. Either runs against the
/// <see cref="IPlatform"/> the hypervisor hands it and leaves through the same closed set of <see cref="CpuExit"/>s,
/// so the hypervisor handles a scripted guest's exits with the code a booted guest takes.
/// </summary>
public interface IGuestCpu
{
    CpuState State { get; }

    /// <summary>Instructions retired since the processor was created.</summary>
    long InstructionsRetired { get; }

    /// <summary>Where the instruction behind the last port, MMIO or HLT exit started, and its length.</summary>
    (ulong Rip, int Length) LastExitInstruction { get; }

    /// <summary>Runs until an exit or until <paramref name="maxInstructions"/> have retired.</summary>
    CpuExit Run(long maxInstructions);

    /// <summary>Answers the <see cref="CpuExit.PortIn"/> just returned.</summary>
    void CompletePortIn(uint value);

    /// <summary>Answers the <see cref="CpuExit.MmioRead"/> just returned.</summary>
    void CompleteMmioRead(ulong value);

    /// <summary>Delivers an exception before the next instruction; a fault on <paramref name="atInstruction"/> when given.</summary>
    void InjectException(int vector, uint? errorCode, CpuExit.InstructionExit? atInstruction = null);

    /// <summary>Raises a fault on the instruction behind the last port, MMIO or HLT exit (TDX #VE, SNP #VC).</summary>
    void InjectFaultAtLastExit(int vector, uint? errorCode);

    /// <summary>
    /// The guest-physical address (with its confidential bit) of a linear address an instruction took; where a read
    /// there would fault, false, with the #PF raised on <paramref name="atInstruction"/>.
    /// </summary>
    bool TranslateOrFault(ulong linear, CpuExit.InstructionExit atInstruction, out ulong gpa);

    /// <summary>Drops every cached translation and host page pointer: the platform changed its mappings.</summary>
    void FlushTlb();

    /// <summary>The time-stamp counter the guest reads; a processor without one counts retired instructions.</summary>
    ulong Tsc => (ulong)InstructionsRetired;

    /// <summary>Moves the TSC forward, as time passing while the processor is halted does.</summary>
    void AdvanceTsc(ulong ticks)
    {
    }

    /// <summary>Whether an external interrupt could be taken before the next instruction.</summary>
    bool InterruptWindowOpen => false;

    /// <summary>When set, <see cref="Run"/> returns <see cref="CpuExit.InterruptWindow"/> as soon as the window opens.</summary>
    bool InterruptWindowExiting
    {
        get => false;
        set { }
    }

    /// <summary>Takes an external interrupt now; false when it cannot (the interrupt controller keeps it pending).</summary>
    bool DeliverExternalInterrupt(int vector) => false;

    /// <summary>Takes an NMI now; false when NMIs are blocked.</summary>
    bool DeliverNmi() => false;
}
