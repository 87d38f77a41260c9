using CocoLaunch.Cpu;

namespace CocoLaunch.Kvm;

/// <summary>
/// Event injection with an in-kernel local APIC (<c>kvm_check_and_inject_events</c>, <c>kvm_vcpu_halt</c>): before
/// each entry the APIC's timer is brought up to date and its highest pending interrupt is taken if the processor's
/// window is open, or an interrupt-window exit is requested; a HLT sleeps until the APIC has something to deliver.
/// Guest time is the TSC, so a halted vCPU's TSC jumps to the timer's deadline instead of waiting for it.
/// </summary>
public sealed partial class VcpuFd
{
    /// <summary>Brings the APIC up to date and delivers what it can; an exit for userspace (an IOAPIC EOI) or null.</summary>
    private KvmExit? InjectEvents(IGuestCpu c)
    {
        if (Apic is not { } apic)
        {
            return null;
        }

        apic.SyncPosted();
        apic.Tick(c.Tsc);
        if (apic.PendingIoapicEoi is >= 0 and int eoi)
        {
            apic.PendingIoapicEoi = -1;
            return new KvmExit.IoapicEoi((byte)eoi);
        }

        if (apic.NmiPending && c.DeliverNmi())
        {
            apic.NmiPending = false;
        }

        int vector = apic.PendingVector();
        if (vector >= 0 && c.InterruptWindowOpen && c.DeliverExternalInterrupt(vector))
        {
            apic.Acknowledge(vector);
            vector = apic.PendingVector();
        }

        c.InterruptWindowExiting = vector >= 0;
        return null;
    }

    /// <summary>The slice to run: no further than the APIC timer's deadline or a host timer's kick, so each fires on time.</summary>
    private long SliceUntilTimer(IGuestCpu c, long slice)
    {
        ulong now = c.Tsc;
        foreach (ulong? deadline in (ReadOnlySpan<ulong?>)[Apic?.TimerDeadline, KickAtTsc])
        {
            if (deadline is { } due)
            {
                slice = due <= now ? 1 : (long)Math.Min((ulong)slice, due - now);
            }
        }

        return slice;
    }

    /// <summary>
    /// HLT with an in-kernel APIC: true when an interrupt (now, or at the timer's deadline, to which the TSC jumps)
    /// wakes the processor. False when nothing can: interrupts are off, or no timer is armed. KVM would block the
    /// vCPU thread for good; the model returns KVM_EXIT_HLT so the VMM sees the guest has stopped.
    /// </summary>
    internal bool Wake(IGuestCpu c, LocalApic apic) => Wake(c, apic, (c.State.Rflags & CpuState.FlagIf) != 0);

    /// <summary>
    /// <see cref="Wake(IGuestCpu, LocalApic)"/> when the guest says whether interrupts may wake it, as a TD does:
    /// TDVMCALL&lt;HLT&gt; runs with IF clear and passes "interrupt blocked" in R12 (<c>tdx_interrupt_allowed</c>).
    /// </summary>
    internal bool Wake(IGuestCpu c, LocalApic apic, bool interruptsEnabled)
    {
        if (Vm.VcpuCount > 1)
        {
            return WakeAmongOthers(c, apic, interruptsEnabled);
        }

        for (int attempt = 0; attempt < 2; attempt++)
        {
            apic.SyncPosted();
            apic.Tick(c.Tsc);
            if (apic.NmiPending || (interruptsEnabled && apic.PendingVector() >= 0))
            {
                return true;
            }

            ulong? timer = interruptsEnabled && apic.TimerUnmasked ? apic.TimerDeadline : null;
            if (KickAtTsc is { } kick && (timer is null || kick < timer))
            {
                // A host timer comes first: the vCPU wakes for it, and KVM_RUN returns for the kick.
                c.AdvanceTsc(kick > c.Tsc ? kick - c.Tsc : 0);
                return true;
            }

            if (timer is not { } due)
            {
                return false;
            }

            if (due > c.Tsc)
            {
                c.AdvanceTsc(due - c.Tsc);
            }
        }

        return false; // the timer fired but its priority is below PPR: only an EOI could unblock it, and none will come
    }

    /// <summary>An xAPIC MMIO access KVM handles in the kernel; false when it is not one.</summary>
    private bool HandleApicMmio(IGuestCpu c, CpuExit exit)
    {
        if (Apic is not { DecodesMmio: true } apic)
        {
            return false;
        }

        switch (exit)
        {
            case CpuExit.MmioRead r when r.Gpa - apic.MmioBase < 0x1000:
                c.CompleteMmioRead(apic.ReadMmio(r.Gpa - apic.MmioBase, r.Size));
                return true;
            case CpuExit.MmioWrite w when w.Gpa - apic.MmioBase < 0x1000:
                apic.WriteMmio(w.Gpa - apic.MmioBase, w.Size, w.Value);
                return true;
            default:
                return false;
        }
    }
}
