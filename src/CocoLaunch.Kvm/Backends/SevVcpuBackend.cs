using CocoLaunch.Abi;
using CocoLaunch.Abi.Kvm;
using CocoLaunch.Cpu;
using CocoLaunch.Firmware.Snp;
using CocoLaunch.Kvm.Mmu;

namespace CocoLaunch.Kvm;

/// <summary>
/// An SEV-ES or SNP guest's vCPU (<c>arch/x86/kvm/svm/sev.c</c>): the CPU's SEV-ES/SNP extension
/// (<see cref="SevEsGuestCpu"/>) turns what the hypervisor may not see into #VC, and KVM sees automatic exits only:
/// VMGEXIT (the GHCB MSR protocol and the GHCB page's NAE events), HLT, RMP nested page faults and shutdown.
/// </summary>
public sealed partial class SevVcpuBackend : VcpuBackend
{
    /// <summary>SEV info: protocol max 2, min 1, C-bit position (guest-abi.md §4).</summary>
    public static ulong SevInfoResponse => (2UL << 48) | (1UL << 32) | ((ulong)SevEsGuestCpu.CBit << 24) | 0x001;

    private SevEsGuestCpu? hardware;
    private SnpPending? snpPending;

    internal SevVcpuBackend(VcpuFd vcpu)
        : base(vcpu)
    {
    }

    /// <summary>The GHCB the guest registered (MSR protocol 0x012), as a GFN; null until then.</summary>
    public ulong? RegisteredGhcbGfn { get; private set; }

    /// <summary>The CPU's SEV-ES/SNP state: made with the first save area, with the GHCB MSR KVM preloads at reset.</summary>
    public SevEsGuestCpu Hardware => hardware ??= new SevEsGuestCpu(Vm.Snp?.Rmp) { GhcbMsr = SevInfoResponse };

    /// <summary>The SNP guest context, once KVM_SEV_SNP_LAUNCH_START made it.</summary>
    private SnpGuestContext Snp => Vm.Snp ?? throw new KvmException(Errno.EINVAL, $"vCPU {Vcpu.Id}: the SNP guest has no launch context");

    /// <summary>What a VMGEXIT left for userspace: the GHCB page-state change or I/O in progress.</summary>
    private sealed record SnpPending(KvmExit Exit, Func<KvmExit, KvmExit?> Complete);

    internal override ulong ConfidentialGpaBit => 1UL << SevEsGuestCpu.CBit;

    internal override bool ConfidentialBitMeansPrivate => true;

    internal override void Attached() => _ = Hardware;

    /// <summary>Guest-owned but not validated: the hardware raises #VC for the guest to PVALIDATE first.</summary>
    internal override void AfterPrivateMap(ulong gfn)
    {
        if (Vm.Snp is { IsFinished: true } && Hardware.PrivateAccessFaults(new Gpa(gfn * Page)))
        {
            throw new PlatformFault(Vector.VmmCommunication, SevEsGuestCpu.VcNotValidated);
        }
    }

    internal override KvmExit? HandleExit(IGuestCpu c, CpuExit exit)
    {
        switch (Hardware.Handle(c, exit))
        {
            case null:
                return null;
            case SvmExit.Vmgexit v:
                return (v.GhcbMsr & 0xFFF) != 0 ? MsrProtocol(c, v.GhcbMsr) : GhcbEvent(c, v.GhcbMsr);
            case SvmExit.Hlt:
                return new KvmExit.Hlt();
            case SvmExit.Npf npf:
                return RmpFault(npf);
            case SvmExit.Shutdown:
                return new KvmExit.Shutdown();
            default:
                throw new KvmException(Errno.EIO, $"vCPU {Vcpu.Id}: unknown #VMEXIT");
        }
    }

    /// <summary>Completes what the last VMGEXIT left for userspace; the next exit of a page-state change in progress, if any.</summary>
    internal override KvmExit? CompleteUserspaceExit(IGuestCpu c)
    {
        if (snpPending is not { } pending)
        {
            return null;
        }

        snpPending = null;
        return pending.Complete(pending.Exit);
    }

    /// <summary>
    /// An RMP #NPF (<c>sev_handle_rmp_fault</c>, the guest_memfd fault path): a size mismatch is PSMASHed and the 2M
    /// leaf dropped, so the pages fault in again at 4K; a page not yet the guest's is faulted in privately, which
    /// assigns it (an implicit conversion when the attributes say shared). The instruction then runs again.
    /// </summary>
    private KvmExit? RmpFault(SvmExit.Npf npf)
    {
        var rmp = Snp.Rmp;
        if (npf.SizeMismatch)
        {
            if (rmp.Psmash(npf.Gpa))
            {
                Vm.Mmu.DemotePrivate((npf.Gpa.Value / Page) & ~(PageLevel.Size2M.Frames() - 1), PageLevel.Size2M.Frames());
            }

            return null;
        }

        return FaultInPrivate(npf.Gpa, () => rmp[npf.Gpa].Assigned, "the guest's RMP entries");
    }

    /// <summary>The GHCB MSR protocol (guest-abi.md §4): the request in [11:0], data above.</summary>
    private KvmExit? MsrProtocol(IGuestCpu c, ulong msr)
    {
        var hw = Hardware;
        ulong data = msr >> 12;
        switch (msr & 0xFFF)
        {
            case 0x002:
                hw.GhcbMsr = SevInfoResponse;
                return null;
            case 0x004:
            {
                uint function = (uint)(msr >> 32);
                int register = (int)((msr >> 30) & 3);
                var (eax, ebx, ecx, edx) = SnpCpuid(function, 0, c.State);
                ulong value = register switch { 0 => eax, 1 => ebx, 2 => ecx, _ => edx };
                hw.GhcbMsr = (value << 32) | (msr & 0xFFFF_F000) | 0x005;
                return null;
            }

            case 0x010:
                hw.GhcbMsr = (0xF_FFFF_FFFF_FFFFUL << 12) | 0x011; // no preferred GHCB
                return null;
            case 0x012:
                RegisteredGhcbGfn = data;
                hw.GhcbMsr = (data << 12) | 0x013;
                return null;
            case 0x014:
            {
                ulong gfn = (msr >> 12) & 0xFF_FFFF_FFFF;
                ulong op = (msr >> 52) & 0xF;
                if (op is not (1 or 2) || (Vm.HypercallExitMask & (1UL << (int)KvmLimits.HcMapGpaRange)) == 0)
                {
                    hw.GhcbMsr = 0x8000_0000_0000_0015;
                    return null;
                }

                var exit = new KvmExit.Hypercall(KvmLimits.HcMapGpaRange, [gfn * Page, 1, op == 1 ? 0x10UL : 0, 0, 0, 0], Flags: 1);
                snpPending = new SnpPending(exit, e => { hw.GhcbMsr = ((KvmExit.Hypercall)e).Ret == 0 ? 0x015 : 0x8000_0000_0000_0015; return null; });
                return exit;
            }

            case 0x080:
                hw.GhcbMsr = (0x3UL << 12) | 0x081; // SNP and AP creation (SevVcpuBackend.ApCreation.cs)
                return null;
            case 0x100:
                return new KvmExit.SystemEvent(KvmExit.SystemEvent.SevTerm, [msr]);
            default:
                return null; // unknown requests resume the guest with the MSR unchanged
        }
    }

    private (ulong Eax, ulong Ebx, ulong Ecx, ulong Edx) SnpCpuid(uint function, uint index, CpuState state)
    {
        if (function == 0x8000_001F)
        {
            // SEV, SEV-ES, SNP; C-bit position 51, one bit of physical address reduction.
            return ((1 << 1) | (1 << 3) | (1 << 4), (ulong)SevEsGuestCpu.CBit | (1 << 6), 0, 0);
        }

        return KvmCpuid(function, index, state);
    }
}
