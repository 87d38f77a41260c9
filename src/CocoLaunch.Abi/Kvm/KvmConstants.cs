namespace CocoLaunch.Abi.Kvm;

/// <summary>Capability numbers for KVM_CHECK_EXTENSION / KVM_ENABLE_CAP (<c>include/uapi/linux/kvm.h</c>).</summary>
public enum KvmCap : uint
{
    NrMemslots = 10,

    /// <summary>KVM_CAP_SPLIT_IRQCHIP: local APICs in KVM, the IOAPIC, PIC and PIT in userspace (arg0: IOAPIC routes).</summary>
    SplitIrqchip = 121,
    ExitHypercall = 201,
    UserMemory2 = 231,
    MemoryFaultInfo = 232,
    MemoryAttributes = 233,
    GuestMemfd = 234,
    VmTypes = 235,
    PreFaultMemory = 236,
    GuestMemfdFlags = 244,

    /// <summary>KVM_CAP_MEMORY_FAULT_NOWAIT from the userfault RFC v2 (the number collided upstream; absent-mapping-rfc profile only).</summary>
    MemoryFaultNowait = 228,

    /// <summary>KVM_CAP_X86_MEMORY_FAULT_EXIT from the userfault RFC v2/v3 (the number collided upstream; absent-mapping-rfc profile only).</summary>
    X86MemoryFaultExit = 227,
}

/// <summary><c>kvm_userspace_memory_region(2).flags</c>.</summary>
[Flags]
public enum KvmMemFlags : uint
{
    None = 0,
    LogDirtyPages = 1u << 0,
    Readonly = 1u << 1,
    GuestMemfd = 1u << 2,

    /// <summary>KVM_MEM_ABSENT_MAPPING_FAULT (userfault RFC v2/v3): it reuses bit 2, so it is valid only on slots without guest_memfd.</summary>
    AbsentMappingFault = 1u << 2,
}

/// <summary><c>kvm_memory_attributes.attributes</c>.</summary>
[Flags]
public enum KvmMemoryAttributes : ulong
{
    None = 0,
    Private = 1UL << 3,
}

/// <summary><c>kvm_create_guest_memfd.flags</c>.</summary>
[Flags]
public enum GuestMemfdFlags : ulong
{
    None = 0,
    Mmap = 1UL << 0,
    InitShared = 1UL << 1,

    /// <summary>
    /// GUEST_MEMFD_FLAG_SUPPORT_SHARED of the in-place conversion RFC v2 (gmem-convert-rfc-v2): the same bit as
    /// <see cref="Mmap"/>; the file may be mmap'ed and its pages converted between shared and private.
    /// </summary>
    SupportShared = 1UL << 0,

    /// <summary>
    /// GUEST_MEMFD_FLAG_INIT_PRIVATE of the RFC v2: the same bit as <see cref="InitShared"/> but the opposite
    /// meaning — the file starts private (guest-only); without it an RFC file starts shared. Valid only together
    /// with <see cref="SupportShared"/>.
    /// </summary>
    InitPrivate = 1UL << 1,
}

/// <summary>fallocate(2) mode bits that guest_memfd looks at.</summary>
[Flags]
public enum FallocateMode
{
    Allocate = 0,
    KeepSize = 0x01,
    PunchHole = 0x02,
    ZeroRange = 0x10,
}

/// <summary><c>kvm_run.exit_reason</c> values the model produces.</summary>
public enum KvmExitReason : uint
{
    Io = 2,
    Hypercall = 3,
    Hlt = 5,
    Mmio = 6,
    Intr = 10,
    Shutdown = 8,
    FailEntry = 9,
    InternalError = 17,
    SystemEvent = 24,
    IoapicEoi = 26,
    MemoryFault = 39,
    Tdx = 40,
}

/// <summary><c>kvm_run.memory_fault.flags</c>.</summary>
[Flags]
public enum KvmMemoryExitFlags : ulong
{
    None = 0,

    /// <summary>KVM_MEMFAULT_REASON_UNKNOWN from the userfault RFC (absent-mapping-rfc profile).</summary>
    ReasonUnknown = 1UL << 0,

    /// <summary>KVM_MEMFAULT_REASON_ABSENT_MAPPING from the userfault RFC (absent-mapping-rfc profile).</summary>
    AbsentMapping = 1UL << 1,

    Private = 1UL << 3,
}

/// <summary>Limits and hypercall numbers from the x86 uAPI.</summary>
public static class KvmLimits
{
    /// <summary>KVM_USER_MEM_SLOTS on x86, reported by KVM_CAP_NR_MEMSLOTS.</summary>
    public const int UserMemSlots = 32764;

    /// <summary>KVM_MEM_MAX_NR_PAGES: the most pages one memslot may hold.</summary>
    public const ulong MemMaxNrPages = (1UL << 31) - 1;

    /// <summary>KVM_HC_VAPIC_POLL_IRQ: a no-op hypercall that returns 0.</summary>
    public const ulong HcVapicPollIrq = 1;

    /// <summary>KVM_HC_MAP_GPA_RANGE.</summary>
    public const ulong HcMapGpaRange = 12;

    /// <summary>KVM_CAP_EXIT_HYPERCALL's mask: only MAP_GPA_RANGE can exit.</summary>
    public const ulong ExitHypercallValidMask = 1UL << (int)HcMapGpaRange;
}
