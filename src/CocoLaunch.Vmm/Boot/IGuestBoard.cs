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
}
