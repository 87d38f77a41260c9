using System.Buffers.Binary;
using CocoLaunch.Abi;
using CocoLaunch.Abi.Kvm;
using CocoLaunch.Cpu;
using CocoLaunch.Firmware.Snp;

namespace CocoLaunch.Kvm;

/// <summary>
/// SNP vCPUs and their save areas (guest-abi.md §5.3, <c>sev_snp_ap_creation</c>): the BSP starts from its launch
/// VMSA; an AP is not runnable until another vCPU's AP-creation event names a VMSA page the guest made, and it picks
/// that page up on its next entry (KVM_REQ_UPDATE_PROTECTED_GUEST_STATE). VMRUN checks the page in the RMP.
/// </summary>
public sealed partial class SevVcpuBackend
{
    public const ulong NaeApCreation = 0x8000_0013;
    public const uint ApCreateOnInit = 0, ApCreate = 1, ApDestroy = 2;

    // The target vCPU's snp_vmsa_mutex: the creating vCPU writes the request, the target applies it.
    private readonly object apGate = new();
    private bool snpHeld;
    private bool snpUpdateRequested;
    private ulong? snpVmsaGpa;
    private volatile bool snpUpdatePending;

    /// <summary>A new save area (or none) was posted: KVM_RUN picks it up before the next VMRUN.</summary>
    internal override bool MustLeaveBeforeEntry => snpUpdatePending;

    /// <summary>A kick wakes a vCPU waiting to be created, which returns −EINTR.</summary>
    internal override void Kicked()
    {
        lock (apGate)
        {
            Monitor.PulseAll(apGate);
        }
    }

    /// <summary>An AP of an SNP VM, not runnable until the guest creates it (mp_state not RUNNABLE).</summary>
    public bool AwaitsApCreation
    {
        get
        {
            lock (apGate)
            {
                return snpHeld;
            }
        }
    }

    /// <summary>Starts the vCPU from its launch VMSA (the BSP, whose save area LAUNCH_FINISH measured).</summary>
    public void StartFromLaunchVmsa()
    {
        var vmsa = Vcpu.SevEsSaveArea ?? throw new KvmException(Errno.EINVAL, $"vCPU {Vcpu.Id} has no VMSA");
        Vcpu.SetCpu(SnpVmsaState.Read(vmsa), CpuVendor.Amd);
    }

    /// <summary>Leaves the vCPU waiting for the guest's AP creation: KVM_RUN blocks until then, or until a kick.</summary>
    public void HoldForApCreation()
    {
        lock (apGate)
        {
            snpHeld = true;
        }
    }

    /// <summary>NAE 0x80000013 on the creating vCPU: checks the request and posts it to the target; (EXITINFO1, EXITINFO2) for the GHCB.</summary>
    private (ulong Info1, ulong Info2) ApCreation(ulong info1, ulong vmsaGpa, ulong rax, bool raxValid)
    {
        uint request = (uint)info1;
        if (request != ApDestroy && !raxValid)
        {
            return (2, 4); // missing input
        }

        if (Vm.VcpuById((uint)(info1 >> 32)) is not { Sev: { } target })
        {
            return (2, 5); // invalid input: no vCPU with that APIC ID
        }

        if (request is ApCreate or ApCreateOnInit)
        {
            ulong features = Vm.VcpuById(0)?.SevEsSaveArea is { } bsp ? BinaryPrimitives.ReadUInt64LittleEndian(bsp.AsSpan(Firmware.Snp.Vmsa.Field.SevFeatures)) : 0;
            bool addressValid = vmsaGpa % Page == 0 && (vmsaGpa >> SevEsGuestCpu.CBit) == 0;
            // A 2M-aligned VMSA is refused for the SNP erratum (a hugepage colliding with the VMSA's RMP entry).
            if (rax != features || !addressValid || vmsaGpa % PageSize.Size2M == 0)
            {
                return (2, 5);
            }
        }
        else if (request != ApDestroy)
        {
            return (2, 5);
        }

        target.PostSnpApUpdate(request == ApDestroy ? null : vmsaGpa, deferUntilInit: request == ApCreateOnInit);
        return (0, 0);
    }

    private void PostSnpApUpdate(ulong? vmsaGpa, bool deferUntilInit)
    {
        lock (apGate)
        {
            snpVmsaGpa = vmsaGpa;
            if (deferUntilInit)
            {
                return; // applied at the next INIT, which this model never delivers
            }

            snpUpdateRequested = true;
            snpUpdatePending = true;
            Monitor.PulseAll(apGate);
        }
    }

    /// <summary>
    /// Before entering the guest: applies a posted AP update, and blocks while the vCPU is not runnable. Returns an
    /// exit for userspace (a kick, or VMRUN refusing the save area), or null to enter.
    /// </summary>
    internal override KvmExit? BeforeEntry()
    {
        lock (apGate)
        {
            while (true)
            {
                if (snpUpdateRequested)
                {
                    snpUpdateRequested = false;
                    snpUpdatePending = false;
                    if (ApplySnpApUpdate() is { } failed)
                    {
                        return failed;
                    }
                }

                if (!snpHeld)
                {
                    return null;
                }

                if (Vcpu.TakeKick())
                {
                    return new KvmExit.Intr();
                }

                Monitor.Wait(apGate);
            }
        }
    }

    /// <summary>__sev_snp_update_protected_guest_state, then the VMRUN on the new save area.</summary>
    private KvmExit? ApplySnpApUpdate()
    {
        snpHeld = true; // offline until a valid VMSA replaces the old one
        if (snpVmsaGpa is not { } gpa)
        {
            return null;
        }

        snpVmsaGpa = null;
        ulong gfn = gpa / Page;
        if (Vm.Slots.Find(gfn) is not { BoundToGmem: true })
        {
            throw new KvmException(Errno.EINVAL, $"vCPU {Vcpu.Id}: the VMSA at 0x{gpa:x} is not in guest_memfd memory");
        }

        snpHeld = false;
        if (!Snp.Rmp.IsVmsa(new Gpa(gpa)))
        {
            return new KvmExit.FailEntry(KvmExit.FailEntry.SvmExitErr, Vcpu.Id, $"VMRUN: the save area at 0x{gpa:x} is not a validated VMSA page of the guest in the RMP");
        }

        var page = new byte[Page];
        Vm.BackingStore(gfn, isPrivate: true).Read(gpa, page);
        Vcpu.SetCpu(SnpVmsaState.Read(page), CpuVendor.Amd);
        return null;
    }
}
