using CocoLaunch.Abi;
using CocoLaunch.Abi.Kvm;
using CocoLaunch.Kvm.Mmu;

namespace CocoLaunch.Kvm;

public sealed partial class VcpuFd
{
    private IGuest? guest;
    private GuestAction? current;
    private KvmExit? pending;

    /// <summary>Attaches the guest that KVM_RUN executes (the CPU emulator, or a script in tests).</summary>
    public void SetGuest(IGuest program)
    {
        guest = program;
        current = null;
        pending = null;
    }

    /// <summary>
    /// KVM_RUN: completes the previous exit (MMIO read data, hypercall ret), then runs the guest until the
    /// next exit. A memory fault comes back as <see cref="KvmExit.MemoryFault"/> (the ioctl's −1/EFAULT);
    /// its faulting action is retried on the next call, after userspace fixed the cause.
    /// </summary>
    public KvmExit Run()
    {
        while (true)
        {
            if (Vm.Type == KvmVmType.Snp && SnpApGate() is { } gateExit)
            {
                return gateExit;
            }

            if (RunOnce() is { } exit)
            {
                return exit;
            }
        }
    }

    /// <summary>One entry; null when a posted SNP AP update must be applied first (outside the vCPU mutex).</summary>
    private KvmExit? RunOnce()
    {
        lock (mutex)
        {
            if (guest is null && cpu is null)
            {
                throw new KvmException(Errno.ENOEXEC, "the vCPU has no guest to run");
            }

            if (Vm.Memslots.Count == 0)
            {
                return new KvmExit.InternalError(1, "KVM_RUN with no memslots");
            }

            if (cpu is not null)
            {
                return RunCpu(cpu);
            }

            var result = CompletePending();
            while (true)
            {
                current ??= guest!.Next(result);
                result = null;
                switch (current)
                {
                    case null:
                        return new KvmExit.Shutdown();
                    case GuestAction.Halt:
                        current = null;
                        return new KvmExit.Hlt();
                    case GuestAction.Hypercall h:
                        if (Hypercall(h, out ulong rax) is { } exit)
                        {
                            pending = exit;
                            return exit;
                        }

                        current = null;
                        result = new GuestResult(Rax: rax);
                        break;
                    default:
                        var (access, accessExit) = Access(current);
                        if (accessExit is not null)
                        {
                            if (accessExit is KvmExit.Mmio)
                            {
                                pending = accessExit;
                            }

                            return accessExit;
                        }

                        current = null;
                        result = access;
                        break;
                }
            }
        }
    }

    private GuestResult? CompletePending()
    {
        var exit = pending;
        pending = null;
        switch (exit)
        {
            case KvmExit.Hypercall h:
                current = null;
                return new GuestResult(Rax: h.LongMode ? h.Ret : (uint)h.Ret);
            case KvmExit.Mmio m:
                current = null;
                return new GuestResult(Data: m.IsWrite ? null : m.Data);
            default:
                return null;
        }
    }

    /// <summary>The legacy VMCALL/VMMCALL path of <c>____kvm_emulate_hypercall</c> (kvm-memory-model.md §8).</summary>
    private KvmExit.Hypercall? Hypercall(GuestAction.Hypercall h, out ulong rax)
    {
        ulong Trunc(ulong v) => h.LongMode ? v : (uint)v;
        rax = 0;
        if (h.Cpl != 0)
        {
            rax = Trunc(KvmHypercallError.EPerm);
            return null;
        }

        if (h.Nr != KvmLimits.HcMapGpaRange || (Vm.HypercallExitMask & KvmLimits.ExitHypercallValidMask) == 0)
        {
            rax = Trunc(KvmHypercallError.ENoSys);
            return null;
        }

        ulong gpa = Trunc(h.A0), npages = Trunc(h.A1), attrs = Trunc(h.A2);
        ulong gfn = gpa / Page;
        if (gpa % Page != 0 || npages == 0 || gfn + npages < gfn)
        {
            rax = Trunc(KvmHypercallError.EInval);
            return null;
        }

        return new KvmExit.Hypercall(KvmLimits.HcMapGpaRange, [gpa, npages, attrs, 0, 0, 0], h.LongMode ? 1UL : 0);
    }

    /// <summary>A guest data access: fault the page in (or exit), then move the bytes.</summary>
    private (GuestResult? Result, KvmExit? Exit) Access(GuestAction action)
    {
        var (address, length, isPrivateHint) = action switch
        {
            GuestAction.Read r => (r.Address, r.Length, r.Private),
            GuestAction.Write w => (w.Address, w.Data.Length, w.Private),
            _ => throw new InvalidOperationException($"not a memory access: {action}"),
        };

        if (Vm.SharedGpaBit is int sharedBit && ((address.Value >> sharedBit) & 1) != 0)
        {
            // TDX: the shared alias is the same GFN reached through the shared EPT.
            address = new Gpa(address.Value & ~(1UL << sharedBit));
            isPrivateHint = false;
        }

        ulong gfn = address.Value / Page;
        if ((address.Value % Page) + (ulong)length > Page)
        {
            throw new ArgumentException($"guest access at {address} of {length} bytes crosses a page", nameof(action));
        }

        bool isPrivate = isPrivateHint ?? (Vm.Type.HasPrivateMemory() && Vm.AttributesOf(gfn).HasFlag(KvmMemoryAttributes.Private));
        while (true)
        {
            var outcome = Vm.Fault(gfn, 1, isPrivate, prefetch: false);
            switch (outcome.Kind)
            {
                case FaultKind.SlotInvalid:
                    Thread.Yield(); // KVM retries the fault until the slot update completes
                    continue;
                case FaultKind.NoSlot:
                    return (null, new KvmExit.Mmio(address, length, action is GuestAction.Write, action is GuestAction.Write w2 ? w2.Data : new byte[length]));
                case FaultKind.Error when outcome.Error is { Info: { } info } e:
                    LastMemoryFault = info;
                    return (null, new KvmExit.MemoryFault(e.Errno, info));
                case FaultKind.Error:
                    throw new KvmException(outcome.Error.Errno, outcome.Error.Detail);
            }

            Vm.Mmu.Table(isPrivate).MarkAccessed(gfn);
            var store = Vm.BackingStore(gfn, isPrivate);
            if (action is GuestAction.Write write)
            {
                store.Write(address.Value, write.Data);
                return (new GuestResult(), null);
            }

            var data = new byte[length];
            store.Read(address.Value, data);
            return (new GuestResult(Data: data), null);
        }
    }
}
