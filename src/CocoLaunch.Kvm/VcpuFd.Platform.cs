using CocoLaunch.Abi;
using CocoLaunch.Abi.Kvm;
using CocoLaunch.Cpu;
using CocoLaunch.Firmware.Tdx;

namespace CocoLaunch.Kvm;

/// <summary>Why KVM_RUN failed with EIO: the TDX module found the TD touching a page it never accepted.</summary>
public sealed record TdAccessBeforeAccept(Gpa Gpa);

public sealed partial class VcpuFd
{
    /// <summary>The C-bit position an SNP guest sees in CPUID 0x8000001F EBX[5:0].</summary>
    public const int SnpCBit = 51;

    /// <summary>#VC error code for an access to a private page that is not validated (guest-abi.md §6.3).</summary>
    public const uint SnpVcNotValidated = 0x404;

    /// <summary>
    /// The CPU's view of guest memory, through the stage-2 tables: a fault maps the page (or exits, as KVM's fault
    /// path does), and the CPU gets the host page behind it. For a TD, private pages also pass the Secure EPT: a
    /// pending page stops the vCPU, as the TDX module does when the TD has SEPT_VE_DISABLE.
    /// </summary>
    private sealed unsafe class VcpuPlatform(VmFd vm) : IPlatform
    {
        public ulong ConfidentialGpaBit => vm.SharedGpaBit is int bit ? 1UL << bit : vm.Type == KvmVmType.Snp ? 1UL << SnpCBit : 0;

        public bool ConfidentialBitMeansPrivate => vm.Type == KvmVmType.Snp;

        public byte* RamPage(ulong gfn, bool isPrivate, bool write)
        {
            if (!vm.Type.HasPrivateMemory())
            {
                return DefaultPage(gfn, write);
            }

            var slot = vm.Slots.Find(gfn);
            if (!isPrivate && (slot is null || (write && slot.Flags.HasFlag(KvmMemFlags.Readonly))))
            {
                return null; // MMIO (a TD's shared MMIO becomes #VE at the exit)
            }

            if (isPrivate && vm.Td is { IsFinalized: true } td)
            {
                var gpa = new Gpa(gfn * Page);
                if (td.StateOf(gpa) == SeptState.Free)
                {
                    Map(gfn, isPrivate: true); // EPT violation: KVM faults the page in and adds it pending (AUG)
                }

                if (td.StateOf(gpa) != SeptState.Mapped)
                {
                    throw new PlatformStop(new TdAccessBeforeAccept(gpa));
                }
            }

            Map(gfn, isPrivate);
            if (isPrivate && vm.Snp is { IsFinished: true } snp && !snp.Rmp.IsUsable(new Gpa(gfn * Page)))
            {
                // Guest-owned but not validated: the hardware raises #VC for the guest to PVALIDATE first.
                throw new PlatformFault(Vector.VmmCommunication, SnpVcNotValidated);
            }

            vm.Mmu.Table(isPrivate).MarkAccessed(gfn);
            slot = vm.Slots.Find(gfn)!;
            if (isPrivate || slot.IsGmemOnly)
            {
                return slot.GuestMemfd!.Pages.PagePointer(slot.GuestMemfdPgoff + (gfn - slot.BaseGfn));
            }

            return vm.Kvm.Host.PagePointer(slot.HostAddress(gfn * Page));
        }

        /// <summary>KVM's fault for an access: mapped, or a memory-fault exit (an implicit conversion) for userspace.</summary>
        internal void Map(ulong gfn, bool isPrivate)
        {
            if (vm.Mmu.Table(isPrivate).Lookup(gfn) is not null)
            {
                return;
            }

            while (true)
            {
                var outcome = vm.Fault(gfn, 1, isPrivate, prefetch: false);
                switch (outcome.Kind)
                {
                    case FaultKind.Mapped:
                        return;
                    case FaultKind.SlotInvalid:
                        Thread.Yield();
                        continue;
                    case FaultKind.Error when outcome.Error.Info is { } info:
                        throw new PlatformStop(new KvmExit.MemoryFault(outcome.Error.Errno, info));
                    case FaultKind.Error:
                        throw new KvmException(outcome.Error.Errno, outcome.Error.Detail);
                    default:
                        throw new PlatformStop(new KvmExit.MemoryFault(Errno.EFAULT, new MemoryFault(new Gpa(gfn * Page), Page, isPrivate ? KvmMemoryExitFlags.Private : 0)));
                }
            }
        }

        private byte* DefaultPage(ulong gfn, bool write)
        {
            var slot = vm.Slots.Find(gfn);
            if (slot is null || slot.GuestMemfd is not null || (write && slot.Flags.HasFlag(KvmMemFlags.Readonly)))
            {
                return null; // no memslot, or a write to read-only memory: KVM_EXIT_MMIO
            }

            var outcome = vm.Fault(gfn, 1, isPrivate: false, prefetch: false);
            if (outcome.Kind != FaultKind.Mapped)
            {
                return null;
            }

            return vm.Kvm.Host.PagePointer(slot.HostAddress(gfn * Page));
        }
    }
}
