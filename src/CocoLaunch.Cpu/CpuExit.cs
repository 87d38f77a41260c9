namespace CocoLaunch.Cpu;

/// <summary>
/// Why <see cref="X86Cpu.Run"/> returned: a closed set. Instruction exits leave RIP after the instruction
/// (<see cref="InstructionExit.Rip"/> is where it started), so a platform completes them by writing registers
/// and running again, or turns them into an exception with <see cref="X86Cpu.InjectException"/>.
/// </summary>
public abstract record CpuExit
{
    private CpuExit()
    {
    }

    /// <summary>The instruction budget ran out between two instructions.</summary>
    public sealed record InstructionLimit : CpuExit;

    /// <summary>The interrupt window opened while the platform asked for it (<see cref="X86Cpu.InterruptWindowExiting"/>).</summary>
    public sealed record InterruptWindow : CpuExit;

    /// <summary>HLT with interrupts disabled or no interrupt to wait for.</summary>
    public sealed record Halt(ulong Rip) : CpuExit;

    /// <summary>A triple fault (an exception while delivering a double fault): the processor shuts down.</summary>
    public sealed record Shutdown(string Reason) : CpuExit;

    /// <summary>OUT/OUTS: one transfer of <paramref name="Size"/> bytes (1, 2 or 4), already performed by the CPU side.</summary>
    public sealed record PortOut(ushort Port, int Size, uint Value) : CpuExit;

    /// <summary>IN/INS: the platform answers with <see cref="X86Cpu.CompletePortIn"/> before running again.</summary>
    public sealed record PortIn(ushort Port, int Size) : CpuExit;

    /// <summary>
    /// A read of a guest-physical address the platform does not back with RAM; answer with <see cref="X86Cpu.CompleteMmioRead"/>.
    /// <paramref name="Linear"/> is the linear address that reached it (a TD's #VE reports it).
    /// </summary>
    public sealed record MmioRead(ulong Gpa, int Size, bool Private, ulong Linear = 0) : CpuExit;

    /// <summary>A write to a guest-physical address that is not RAM; the instruction has completed.</summary>
    public sealed record MmioWrite(ulong Gpa, int Size, ulong Value, bool Private, ulong Linear = 0) : CpuExit;

    /// <summary>The platform stopped an access with <see cref="PlatformStop"/>; the instruction has not run and runs again.</summary>
    public sealed record Stopped(object Reason) : CpuExit;

    /// <summary>An instruction only the platform can complete: CPUID, RDMSR, WRMSR, VMCALL, TDCALL, VMGEXIT, PVALIDATE, …</summary>
    public sealed record InstructionExit(ExitInstruction Instruction, ulong Rip, int Length) : CpuExit;
}

/// <summary>The instructions that leave the CPU (cpu-emulator.md §3.3).</summary>
public enum ExitInstruction
{
    Cpuid,
    Rdmsr,
    Wrmsr,
    Vmcall,
    Vmmcall,
    Tdcall,
    Vmgexit,
    Pvalidate,
    Rmpadjust,
    Xsetbv,
    Wbinvd,
}
