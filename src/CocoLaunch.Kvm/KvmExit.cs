using CocoLaunch.Abi;
using CocoLaunch.Abi.Kvm;

namespace CocoLaunch.Kvm;

/// <summary>
/// Why KVM_RUN returned: a closed set, as in kvm-ioctls' <c>VcpuExit</c>. Exits that need an answer carry a
/// reply slot that userspace fills in before the next <see cref="VcpuFd.Run"/>, which completes them.
/// </summary>
public abstract record KvmExit(KvmExitReason Reason)
{
    /// <summary>KVM_EXIT_MMIO: a guest access to a GPA without a memslot. For a read, fill <see cref="Data"/>.</summary>
    public sealed record Mmio(Gpa Address, int Length, bool IsWrite, byte[] Data) : KvmExit(KvmExitReason.Mmio);

    /// <summary>KVM_EXIT_HYPERCALL: today only KVM_HC_MAP_GPA_RANGE. Set <see cref="Ret"/>; it reaches the guest on re-entry.</summary>
    public sealed record Hypercall(ulong Nr, ulong[] Args, ulong Flags) : KvmExit(KvmExitReason.Hypercall)
    {
        /// <summary>Preset to 0, as KVM does for QEMU ≤ 9.2, which never wrote it.</summary>
        public ulong Ret { get; set; }

        public bool LongMode => (Flags & 1) != 0;
    }

    /// <summary>KVM_EXIT_MEMORY_FAULT, delivered with KVM_RUN failing with <paramref name="Errno"/> (EFAULT or EHWPOISON).</summary>
    public sealed record MemoryFault(Errno Errno, CocoLaunch.Kvm.MemoryFault Info) : KvmExit(KvmExitReason.MemoryFault);

    /// <summary>The guest halted with nothing to do (userspace irqchip: KVM_EXIT_HLT).</summary>
    public sealed record Hlt() : KvmExit(KvmExitReason.Hlt);

    /// <summary>
    /// KVM_EXIT_IO: port I/O of <paramref name="Count"/> transfers of <paramref name="Size"/> bytes in
    /// <paramref name="Data"/> (<c>kvm_run.io</c> and its data_offset area). For an IN, fill Data before re-entry.
    /// </summary>
    public sealed record Io(bool IsOut, int Size, ushort Port, uint Count, byte[] Data) : KvmExit(KvmExitReason.Io);

    /// <summary>KVM_EXIT_INTR: KVM_RUN returned −EINTR (a signal, or here the instruction budget ran out).</summary>
    public sealed record Intr() : KvmExit(KvmExitReason.Intr);

    /// <summary>KVM_EXIT_SHUTDOWN: triple fault, or the guest program ended.</summary>
    public sealed record Shutdown() : KvmExit(KvmExitReason.Shutdown);

    /// <summary>
    /// KVM_EXIT_FAIL_ENTRY: the hardware refused to enter the guest (<c>kvm_run.fail_entry</c>); for SVM the reason
    /// is the exit code VMRUN gave, SVM_EXIT_ERR (−1) for an invalid save area.
    /// </summary>
    public sealed record FailEntry(ulong HardwareEntryFailureReason, uint Cpu, string Detail) : KvmExit(KvmExitReason.FailEntry)
    {
        public const ulong SvmExitErr = ulong.MaxValue;
    }

    /// <summary>KVM_EXIT_INTERNAL_ERROR, e.g. KVM_RUN with no memslots at all.</summary>
    public sealed record InternalError(uint Suberror, string Detail) : KvmExit(KvmExitReason.InternalError);

    /// <summary>KVM_EXIT_SYSTEM_EVENT: <paramref name="Type"/> 6 SEV_TERM, 7 TDX_FATAL; <paramref name="Data"/> as <c>kvm_run.system_event.data</c>.</summary>
    public sealed record SystemEvent(uint Type, ulong[] Data) : KvmExit(KvmExitReason.SystemEvent)
    {
        public const uint SevTerm = 6, TdxFatal = 7;
    }

    /// <summary>
    /// KVM_EXIT_TDX for TDVMCALL GetQuote (<c>kvm_run.tdx.get_quote</c>): the shared buffer at <paramref name="Gpa"/>
    /// (shared bit cleared) of <paramref name="Size"/> bytes. <see cref="Ret"/> is preset to SUBFUNC_UNSUPPORTED
    /// and reaches the guest in R10 on re-entry.
    /// </summary>
    public sealed record TdxGetQuote(ulong Gpa, ulong Size) : KvmExit(KvmExitReason.Tdx)
    {
        public const ulong Nr = 0x10002;

        public ulong Ret { get; set; } = TdVmcallStatus.SubfuncUnsupported;
    }

    /// <summary>
    /// KVM_EXIT_IOAPIC_EOI (split irqchip): the guest ended a level-triggered interrupt of <paramref name="Vector"/>,
    /// so the userspace IOAPIC clears the remote IRR of the pins routed to it.
    /// </summary>
    public sealed record IoapicEoi(byte Vector) : KvmExit(KvmExitReason.IoapicEoi);

    /// <summary>An exit the model does not decode, kept rather than dropped.</summary>
    public sealed record Unsupported(uint RawReason) : KvmExit((KvmExitReason)RawReason);
}

/// <summary>TDG.VP.VMCALL status codes in R10 (GHCI, guest-abi.md §3.2).</summary>
public static class TdVmcallStatus
{
    public const ulong Success = 0;
    public const ulong Retry = 1;
    public const ulong InvalidOperand = 0x8000_0000_0000_0000;
    public const ulong GpaInUse = 0x8000_0000_0000_0001;
    public const ulong AlignError = 0x8000_0000_0000_0002;
    public const ulong SubfuncUnsupported = 0x8000_0000_0000_0003;
}
