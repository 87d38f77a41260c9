using CocoLaunch.Abi.Kvm;

namespace CocoLaunch.Kvm;

/// <summary>
/// The split irqchip (<c>arch/x86/kvm/irq.c</c>, <c>irq_comm.c</c>): local APICs in KVM, everything else in
/// userspace, which delivers device interrupts as MSIs with KVM_SIGNAL_MSI.
/// </summary>
public sealed partial class VmFd
{
    /// <summary>MAX_NR_RESERVED_IOAPIC_PINS (KVM_MAX_IRQ_ROUTES): the most routes KVM_CAP_SPLIT_IRQCHIP reserves.</summary>
    public const ulong MaxReservedIoapicPins = 4096;

    /// <summary>KVM_IRQCHIP_SPLIT: vCPUs created from now on get an in-kernel local APIC.</summary>
    public bool IrqchipSplit { get; private set; }

    /// <summary>The IOAPIC pins userspace reserved routes for (<c>nr_reserved_ioapic_pins</c>).</summary>
    public ulong ReservedIoapicPins { get; private set; }

    /// <summary>
    /// KVM_CAP_SPLIT_IRQCHIP, in <c>kvm_vm_ioctl_enable_cap</c>'s order: too many pins → EINVAL; an irqchip already,
    /// or any vCPU created → EEXIST.
    /// </summary>
    private void EnableSplitIrqchip(ulong pins)
    {
        if (pins > MaxReservedIoapicPins)
        {
            throw new KvmException(Errno.EINVAL, $"KVM_CAP_SPLIT_IRQCHIP: {pins} IOAPIC pins, at most {MaxReservedIoapicPins}");
        }

        if (IrqchipSplit || VcpuCount > 0)
        {
            throw new KvmException(Errno.EEXIST, IrqchipSplit ? "KVM_CAP_SPLIT_IRQCHIP: the VM already has an irqchip" : "KVM_CAP_SPLIT_IRQCHIP after KVM_CREATE_VCPU");
        }

        IrqchipSplit = true;
        ReservedIoapicPins = pins;
    }

    /// <summary>
    /// KVM_SIGNAL_MSI: delivers the MSI to the local APICs its address names (<c>kvm_set_msi</c> →
    /// <c>kvm_irq_delivery_to_apic</c>). Returns how many APICs accepted it, or −1 when none matched. No in-kernel
    /// irqchip, or flags other than KVM_MSI_VALID_DEVID, is EINVAL.
    /// </summary>
    public int SignalMsi(KvmMsi? msi)
    {
        ThrowIfDead();
        var m = msi ?? throw new KvmException(Errno.EFAULT, "KVM_SIGNAL_MSI: no kvm_msi");
        if (!IrqchipSplit || (m.Flags & ~KvmMsi.ValidDevId) != 0)
        {
            throw new KvmException(Errno.EINVAL, IrqchipSplit ? $"KVM_SIGNAL_MSI: flags 0x{m.Flags:x}" : "KVM_SIGNAL_MSI without an in-kernel irqchip");
        }

        // The x86 MSI format (SDM vol. 3 §11.11): destination ID in address bits 19:12, logical destination mode
        // in bit 2; vector, delivery mode and trigger mode in the data.
        uint destination = (uint)((m.Address >> 12) & 0xFF);
        bool logical = (m.Address & 4) != 0;
        int vector = (int)(m.Data & 0xFF);
        uint deliveryMode = (m.Data >> 8) & 7;
        bool level = (m.Data & (1 << 15)) != 0;
        int accepted = 0, matched = 0;
        foreach (var apic in Vcpus.Select(v => v.Apic).OfType<LocalApic>())
        {
            if (!apic.MatchesDestination(destination, logical))
            {
                continue;
            }

            matched++;
            accepted += PostTo(apic, deliveryMode, vector, level) ? 1 : 0;
        }

        return matched == 0 ? -1 : accepted;
    }

    /// <summary>
    /// Posts one interrupt to one APIC by its delivery mode: fixed, and lowest priority delivered to every match as KVM
    /// does without a vector hash, or NMI. False when the APIC will not take it, or for a mode the model does not deliver.
    /// </summary>
    private static bool PostTo(LocalApic apic, uint deliveryMode, int vector, bool level)
    {
        switch (deliveryMode)
        {
            case 0 or 1:
                return apic.Post(vector, level);
            case 4:
                apic.PostNmi();
                return true;
            default:
                return false;
        }
    }

    /// <summary>
    /// The APIC bus for an IPI one vCPU's ICR sends to others (<c>kvm_irq_delivery_to_apic</c> from
    /// <c>kvm_apic_send_ipi</c>): the destination shorthand, or the physical or logical destination, picks the
    /// APICs; fixed and lowest-priority IPIs and NMIs are posted to them. INIT and SIPI are not delivered: a plain VM's
    /// APs do not start (GuestRun refuses more than one vCPU there), and a TD's APs start from the TDX module.
    /// </summary>
    internal void DeliverIpi(LocalApic from, uint low, uint destination)
    {
        int shorthand = (int)((low >> 18) & 3);
        bool logical = (low & (1 << 11)) != 0;
        foreach (var apic in Vcpus.Select(v => v.Apic).OfType<LocalApic>())
        {
            if (!ReferenceEquals(apic, from) && (shorthand is 2 or 3 || apic.MatchesDestination(destination, logical)))
            {
                PostTo(apic, (low >> 8) & 7, (int)(low & 0xFF), level: false);
            }
        }
    }
}
