using CocoLaunch.Abi;
using CocoLaunch.Abi.Kvm;
using CocoLaunch.Kvm;

namespace CocoLaunch.Vmm.Exits;

/// <summary>One small function per exit kind; each is a pure decision plus the KVM calls it implies.</summary>
public static class ExitHandlers
{
    /// <summary>KVM_HC_MAP_GPA_RANGE bit 4: the range becomes private (encrypted).</summary>
    public const ulong MapGpaRangeEncrypted = 0x10;

    /// <summary>
    /// An explicit conversion request (KVM_HC_MAP_GPA_RANGE, TDX MapGPA, SNP page-state change): convert, then
    /// answer the guest through hypercall.ret (0, or −EINVAL as a guest PV error).
    /// </summary>
    public static ExitOutcome MapGpaRange(VmFd vm, KvmExit.Hypercall exit, ConversionMode mode)
    {
        if (exit.Nr != KvmLimits.HcMapGpaRange)
        {
            return new ExitOutcome.Fail($"unexpected hypercall {exit.Nr}");
        }

        var gpa = new Gpa(exit.Args[0]);
        ulong size = exit.Args[1] * PageSize.Size4K;
        bool toPrivate = (exit.Args[2] & MapGpaRangeEncrypted) != 0;
        string? problem = MemoryConversion.Convert(vm, gpa, size, toPrivate, mode);
        exit.Ret = problem is null ? 0 : KvmHypercallError.EInval;
        return ExitOutcome.Continue;
    }

    /// <summary>
    /// An implicit conversion (KVM_EXIT_MEMORY_FAULT): make the page what the access expected, as
    /// cloud-hypervisor does. A fault that repeats at the same GPA after that is a guest error, not a loop.
    /// </summary>
    public static ExitOutcome MemoryFault(VmFd vm, KvmExit.MemoryFault exit, ConversionMode mode, ref Gpa? lastFault)
    {
        var info = exit.Info;
        if (info.Flags.HasFlag(KvmMemoryExitFlags.AbsentMapping))
        {
            return ExitOutcome.Continue; // handled by AbsentMapping below; kept for a single switch in the loop
        }

        if ((info.Flags & ~KvmMemoryExitFlags.Private) != 0)
        {
            return new ExitOutcome.Fail($"memory fault at {info.Gpa} with unknown flags 0x{(ulong)info.Flags:x}");
        }

        if (lastFault == info.Gpa)
        {
            return new ExitOutcome.Fail($"memory fault at {info.Gpa} repeated after conversion ({exit.Errno})");
        }

        lastFault = info.Gpa;
        string? problem = MemoryConversion.Convert(vm, info.Gpa, info.Size, info.IsPrivate, mode);
        return problem is null ? ExitOutcome.Continue : new ExitOutcome.Fail(problem);
    }

    /// <summary>KVM_MEM_ABSENT_MAPPING_FAULT: the host page was missing; populate it (postcopy would fetch it) and retry.</summary>
    public static ExitOutcome AbsentMapping(VmFd vm, KvmExit.MemoryFault exit)
    {
        var gpa = exit.Info.Gpa.Value;
        var slot = vm.Memslots.FirstOrDefault(s => s.Contains(gpa / PageSize.Size4K));
        if (slot is null)
        {
            return new ExitOutcome.Fail($"absent-mapping fault at {exit.Info.Gpa} outside every memslot");
        }

        var hva = new Memory.Hva(slot.UserspaceAddr.Value + gpa - (slot.BaseGfn * PageSize.Size4K));
        vm.Kvm.Host.Populate(hva, exit.Info.Size);
        return ExitOutcome.Continue;
    }
}
