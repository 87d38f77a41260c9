namespace CocoLaunch.Kvm;

/// <summary>
/// Kernel behaviours that differ between versions or series (kvm-memory-model.md §0.2). The defaults
/// are upstream; each switch names the alternative it turns on.
/// </summary>
public sealed record KvmProfile
{
    public static KvmProfile Upstream { get; } = new();

    /// <summary>KVM_CAP_PRE_FAULT_MEMORY reports tdp_enabled; false models ept=0/npt=0.</summary>
    public bool TdpEnabled { get; init; } = true;

    /// <summary>KVM_X86_QUIRK_SLOT_ZAP_ALL: DEFAULT VMs zap every mapping when a slot is deleted or moved.</summary>
    public bool SlotZapAllQuirk { get; init; } = true;

    /// <summary><c>gmem-convert-rfc-v2</c>: KVM_GMEM_CONVERT_SHARED/PRIVATE and INIT_SHARED on VMs with private memory.</summary>
    public bool GmemInPlaceConversion { get; init; }

    /// <summary>
    /// <c>gmem-attributes2-v8</c> (vm_memory_attributes=0): privacy belongs to the guest_memfd, converted with
    /// KVM_SET_MEMORY_ATTRIBUTES2 on its fd. Use with <see cref="GmemInPlaceConversion"/>, whose per-page privacy the
    /// fault path then follows; the RFC's KVM_GMEM_CONVERT_* are then absent (ENOTTY).
    /// </summary>
    public bool GmemAttributes2 { get; init; }

    /// <summary>The <c>gmem-attributes2-v8</c> profile.</summary>
    public static KvmProfile GmemAttributes2V8 { get; } = new() { GmemInPlaceConversion = true, GmemAttributes2 = true };

    /// <summary><c>absent-mapping-rfc</c>: KVM_MEM_ABSENT_MAPPING_FAULT slots and KVM_CAP_MEMORY_FAULT_NOWAIT.</summary>
    public bool AbsentMappingFault { get; init; }

    /// <summary><c>tdx-two-pass-2024</c>: KVM_TDX_EXTEND_MEMORY exists, so a VMM can add every page of a section before extending any.</summary>
    public bool TdxTwoPass { get; init; }

    /// <summary>
    /// <c>snp-smt-strict</c> (older kernels): KVM_SEV_SNP_LAUNCH_START itself refuses a policy without SMT (bit 16)
    /// with EINVAL. Newer kernels leave the bit to the firmware (see <see cref="HostSmtActive"/>).
    /// </summary>
    public bool SnpSmtStrict { get; init; }

    /// <summary>SMT is enabled on the host (BIOS): the SNP firmware then fails LAUNCH_START with POLICY_FAILURE when the policy clears SMT.</summary>
    public bool HostSmtActive { get; init; } = true;

    /// <summary>The host's EPT supports 5 levels; without it KVM_TDX_INIT_VM refuses GPAW 52 (<c>setup_tdparams_eptp_controls</c>).</summary>
    public bool Ept5Level { get; init; } = true;

    /// <summary><c>tdx-6.16</c>: no KVM_TDX_TERMINATE_VM (6.17+), which is then an unknown id (EINVAL).</summary>
    public bool Tdx616 { get; init; }

    /// <summary>
    /// The most bytes of host memory the pages behind guest memory may take (the VMM's memory cgroup limit); null for
    /// none. A page beyond it is not allocated: a vCPU touching one stops with a memory-fault exit (ENOMEM for a
    /// private page, as <c>kvm_gmem_get_pfn</c> fails; EFAULT for a shared one, as <c>kvm_handle_error_pfn</c>).
    /// </summary>
    public ulong? HostMemoryLimit { get; init; }

    /// <summary>guest_memfd folio size in bytes; upstream allocates only 4 KiB folios (the hugetlb series allows 2M/1G).</summary>
    public ulong GmemFolioSize { get; init; } = Abi.PageSize.Size4K;
}
