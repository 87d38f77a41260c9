using CocoLaunch.Abi;
using CocoLaunch.Abi.Kvm;

namespace CocoLaunch.Kvm;

/// <summary>KVM_CHECK_EXTENSION values on x86, for the system fd and per VM type (kvm-memory-model.md §1.2).</summary>
internal static class Capabilities
{
    public static ulong Check(Kvm kvm, VmFd? vm, KvmCap cap) => cap switch
    {
        KvmCap.NrMemslots => (ulong)KvmLimits.UserMemSlots,
        KvmCap.ExitHypercall => KvmLimits.ExitHypercallValidMask,
        KvmCap.UserMemory2 => 1,
        KvmCap.MemoryFaultInfo => 1,
        KvmCap.MemoryAttributes => vm is null || vm.Type.HasPrivateMemory() ? (ulong)KvmMemoryAttributes.Private : 0,
        KvmCap.GuestMemfd => 1,
        KvmCap.VmTypes => vm is null ? 0x3FUL : 0,
        KvmCap.PreFaultMemory => kvm.Profile.TdpEnabled ? 1UL : 0,
        KvmCap.GuestMemfdFlags => (ulong)SupportedGmemFlags(kvm, vm),
        KvmCap.MemoryFaultNowait => kvm.Profile.AbsentMappingFault ? 1UL : 0,
        KvmCap.X86MemoryFaultExit => kvm.Profile.AbsentMappingFault ? 1UL : 0,
        _ => 0,
    };

    /// <summary>MMAP always; INIT_SHARED only where no private/shared attribute tracking competes with it.</summary>
    public static GuestMemfdFlags SupportedGmemFlags(Kvm kvm, VmFd? vm) =>
        vm is null || !vm.Type.HasPrivateMemory() || kvm.Profile.GmemInPlaceConversion
            ? GuestMemfdFlags.Mmap | GuestMemfdFlags.InitShared
            : GuestMemfdFlags.Mmap;
}
