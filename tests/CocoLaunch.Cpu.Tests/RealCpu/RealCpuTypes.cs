namespace CocoLaunch.Cpu.Tests;

/// <summary>
/// The processor mode a <see cref="RealCpu"/> run starts in (the memory layout is on <see cref="RealCpu"/>).
/// User-mode runs are the trustworthy ones: under PVM (a KVM backend for hosts without hardware virtualisation,
/// which is what these machines have) only CPL 3 code runs on the silicon, while CPL 0 and real-mode code is
/// executed by KVM's software instruction emulator (about 3 µs per instruction, and it rejects some forms such as
/// ENTER with a nesting level). On SVM/VMX hosts every mode runs natively.
/// </summary>
internal enum RealCpuMode
{
    /// <summary>64-bit long mode at CPL 3 (CS 0x3B, SS = DS = ES = FS = GS = 0x33), identity paging of the first 4 MiB.</summary>
    Long64,

    /// <summary>64-bit long mode at CPL 0 (CS 0x08, data 0x10).</summary>
    Long64Kernel,

    /// <summary>32-bit protected mode at CPL 3 without paging: flat CS 0x43 and data 0x33.</summary>
    Protected32,

    /// <summary>32-bit protected mode at CPL 0 without paging: flat CS 0x18 and data 0x10.</summary>
    Protected32Kernel,

    /// <summary>Real mode: CS 0x1000 (code at 0x10000, IP 0), DS = ES = FS = GS = SS = 0x2000 (scratch at offset 0).</summary>
    Real16,
}

/// <summary>
/// The state a run starts from. GPRs are in x86 encoding order: RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8–R15
/// (index = the register number in ModRM/REX), the order <see cref="CpuState.Gpr"/> uses.
/// </summary>
internal sealed class RealCpuInput
{
    public const int RegisterCount = 16;
    public const int Rsp = 4;

    /// <summary>RSP 0 means "the mode's default stack top" (<see cref="RealCpu.StackTop"/>, or SP 0xF000 in real mode).</summary>
    public ulong[] Gprs { get; } = new ulong[RegisterCount];

    /// <summary>
    /// Bit 1 is forced on. Callers leave TF clear (it would single-step into the #DB handler) and, for user-mode
    /// runs, AC clear and IF set: a user-mode guest under PVM runs with the host's IF and alignment-check setup.
    /// </summary>
    public ulong Rflags { get; set; } = 0x202;

    /// <summary>The whole scratch page (<see cref="RealCpu.ScratchSize"/> bytes) as the code will find it.</summary>
    public byte[] Scratch { get; } = new byte[RealCpu.ScratchSize];
}

/// <summary>
/// The state after the appended HLT (<see cref="Rip"/> just past it), or at the fault when an exception handler
/// ran: then <see cref="Rip"/>, <see cref="Rflags"/> and RSP come from the exception frame, so they are the
/// faulting instruction's address and the flags it saw (RF, which the CPU sets in a fault's pushed image, is
/// cleared). In user mode the HLT itself faults (#GP); that fault at the HLT's address is reported as the end.
/// </summary>
internal sealed class RealCpuResult
{
    public required ulong[] Gprs { get; init; }

    /// <summary>Linear in Long64/Protected32 (CS base 0); the CS-relative IP in Real16.</summary>
    public required ulong Rip { get; init; }

    public required ulong Rflags { get; init; }

    public required byte[] Scratch { get; init; }

    public int? ExceptionVector { get; init; }

    /// <summary>Set for the vectors that push one (8, 10–14, 17, 21, 29, 30) outside real mode.</summary>
    public ulong? ErrorCode { get; init; }
}
