namespace CocoLaunch.Kvm.Mmu;

/// <summary>How large a leaf KVM_PRE_FAULT_MEMORY may install around the requested range.</summary>
public enum PreFaultPolicy
{
    /// <summary>KVM's own rule: the largest allowed level, even when the leaf covers neighbours of the range.</summary>
    Upstream,

    /// <summary>
    /// CocoLaunch's launch rule for confidential VMs: a huge leaf only where the whole leaf lies inside the
    /// requested range, so nothing outside [gpa, gpa + size) is ever mapped.
    /// </summary>
    ExactRange,
}
