using CocoLaunch.Abi.Kvm;
using CocoLaunch.Kvm;

namespace CocoLaunch.Vmm.Boot;

/// <summary>The devices of a machine the exit loop hands port, MMIO and EOI exits to.</summary>
public interface IGuestBoard
{
    /// <summary>Serves one exit; a reason to stop, or null to run on.</summary>
    string? Handle(KvmExit exit);

    /// <summary>Why the guest stopped by its own request (power-off, reset), or null while it runs.</summary>
    string? Stop { get; }

    /// <summary>
    /// The guest TSC at which a device next interrupts on its own (a timer), or null: the exit loop has the BSP's
    /// KVM_RUN return then (a host timer's KVM_EXIT_INTR) and calls <see cref="FireTimers"/>, as a VMM's timer thread
    /// signals the vCPU thread.
    /// </summary>
    ulong? NextTimerTsc => null;

    /// <summary>Raises the interrupts that are due by now; false when none was.</summary>
    bool FireTimers() => false;
}
