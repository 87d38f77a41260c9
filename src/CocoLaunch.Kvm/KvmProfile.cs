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

    /// <summary><c>absent-mapping-rfc</c>: KVM_MEM_ABSENT_MAPPING_FAULT slots and KVM_CAP_MEMORY_FAULT_NOWAIT.</summary>
    public bool AbsentMappingFault { get; init; }

    /// <summary><c>tdx-two-pass-2024</c>: KVM_TDX_EXTEND_MEMORY exists, so a VMM can add every page of a section before extending any.</summary>
    public bool TdxTwoPass { get; init; }

    /// <summary>guest_memfd folio size in bytes; upstream allocates only 4 KiB folios (the hugetlb series allows 2M/1G).</summary>
    public ulong GmemFolioSize { get; init; } = Abi.PageSize.Size4K;
}
