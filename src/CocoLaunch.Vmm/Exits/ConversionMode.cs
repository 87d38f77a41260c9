namespace CocoLaunch.Vmm.Exits;

/// <summary>How the VMM turns a guest's shared/private conversion request into KVM and guest_memfd calls.</summary>
public enum ConversionMode
{
    /// <summary>KVM_SET_MEMORY_ATTRIBUTES only: both backings keep their contents.</summary>
    Attributes,

    /// <summary>
    /// Attributes plus discarding the side that is given up (cloud-hypervisor, QEMU): going shared punches the
    /// guest_memfd range, going private discards the host pages. A round trip reads zeros.
    /// </summary>
    AttributesWithDiscard,

    /// <summary>KVM_GMEM_CONVERT_SHARED/PRIVATE on the guest_memfd (in-place series): one set of pages, contents kept.</summary>
    InPlace,
}
