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
    public sealed record Hlt() : KvmExit((KvmExitReason)5);

    /// <summary>KVM_EXIT_SHUTDOWN: triple fault, or the guest program ended.</summary>
    public sealed record Shutdown() : KvmExit(KvmExitReason.Shutdown);

    /// <summary>KVM_EXIT_INTERNAL_ERROR, e.g. KVM_RUN with no memslots at all.</summary>
    public sealed record InternalError(uint Suberror, string Detail) : KvmExit(KvmExitReason.InternalError);

    /// <summary>An exit the model does not decode, kept rather than dropped.</summary>
    public sealed record Unsupported(uint RawReason) : KvmExit((KvmExitReason)RawReason);
}
