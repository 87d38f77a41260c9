using CocoLaunch.Abi;
using CocoLaunch.Abi.Kvm;

namespace CocoLaunch.Kvm;

/// <summary><c>kvm_run.memory_fault</c>: what userspace must fix before re-entering (convert, populate).</summary>
public sealed record MemoryFault(Gpa Gpa, ulong Size, KvmMemoryExitFlags Flags)
{
    public bool IsPrivate => Flags.HasFlag(KvmMemoryExitFlags.Private);
}

/// <summary>A fault that ended in an errno, with the memory-fault data KVM wrote alongside it (if any).</summary>
internal readonly record struct FaultError(Errno Errno, MemoryFault? Info, string Detail);

/// <summary>The outcome of one stage-2 fault: frames now mapped from the faulting GFN onwards, or why not.</summary>
internal readonly record struct FaultOutcome(ulong Frames, FaultKind Kind, FaultError Error)
{
    public static FaultOutcome Mapped(ulong frames) => new(frames, FaultKind.Mapped, default);

    public static FaultOutcome NoSlot { get; } = new(0, FaultKind.NoSlot, default);

    public static FaultOutcome SlotInvalid { get; } = new(0, FaultKind.SlotInvalid, default);

    public static FaultOutcome Retry { get; } = new(0, FaultKind.Retry, default);

    public static FaultOutcome Failed(Errno errno, MemoryFault? info, string detail) => new(0, FaultKind.Error, new FaultError(errno, info, detail));
}

internal enum FaultKind
{
    Mapped,

    /// <summary>No memslot: KVM would emulate MMIO (pre-fault reports ENOENT).</summary>
    NoSlot,

    /// <summary>The slot is being deleted or moved: retry (pre-fault reports EAGAIN).</summary>
    SlotInvalid,

    /// <summary>An invalidation of guest_memfd pages is in progress (mmu_invalidate_in_progress): RET_PF_RETRY.</summary>
    Retry,

    Error,
}
