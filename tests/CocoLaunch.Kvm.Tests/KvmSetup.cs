using CocoLaunch.Abi;
using CocoLaunch.Abi.Kvm;
using CocoLaunch.Memory;
using CocoLaunch.Tests.Shared;

namespace CocoLaunch.Kvm.Tests;

/// <summary>Builders for the conformance suite; defaults follow kvm-memory-model.md §14 (SW_PROTECTED VM, 4 KiB pages).</summary>
internal static class KvmSetup
{
    public const ulong K4 = PageSize.Size4K;
    public const ulong M2 = PageSize.Size2M;
    public const ulong G1 = PageSize.Size1G;

    public static VmFd Vm(KvmVmType type = KvmVmType.SwProtected, KvmProfile? profile = null) => new Kvm(profile).CreateVm(type).WithTdIrqchip();

    public static int Gmem(this VmFd vm, ulong size, GuestMemfdFlags flags = GuestMemfdFlags.None) =>
        vm.CreateGuestMemfd(new KvmCreateGuestMemfd { Size = size, Flags = flags });

    public static GuestMemfd GmemFile(this VmFd vm, int fd) => vm.Kvm.Fds.Get<GuestMemfd>(fd);

    /// <summary>Host memory for a slot, aligned to its backing page size.</summary>
    public static Hva HostMemory(this VmFd vm, ulong size, ulong backing = K4, bool missing = false) => vm.Kvm.Host.Map(size, backing, missing);

    /// <summary>A slot backed by fresh host memory, plus a guest_memfd range when <paramref name="gmemFd"/> is given.</summary>
    public static void Slot(this VmFd vm, uint slot, ulong gpa, ulong size, int? gmemFd = null, ulong gmemOffset = 0, KvmMemFlags flags = 0, ulong backing = K4)
    {
        var hva = vm.HostMemory(size, backing);
        vm.SetUserMemoryRegion2(new KvmUserspaceMemoryRegion2
        {
            Slot = slot,
            Flags = flags | (gmemFd is null ? 0 : KvmMemFlags.GuestMemfd),
            GuestPhysAddr = gpa,
            MemorySize = size,
            UserspaceAddr = hva.Value,
            GuestMemfd = gmemFd ?? -1,
            GuestMemfdOffset = gmemOffset,
        });
    }

    public static void DeleteSlot(this VmFd vm, uint slot) =>
        vm.SetUserMemoryRegion2(new KvmUserspaceMemoryRegion2 { Slot = slot, GuestMemfd = -1 });

    public static void SetAttributes(this VmFd vm, ulong gpa, ulong size, bool isPrivate) =>
        vm.SetMemoryAttributes(new KvmMemoryAttributesArgs { Address = gpa, Size = size, Attributes = isPrivate ? KvmMemoryAttributes.Private : 0 });

    public static int PreFault(this VcpuFd vcpu, ref KvmPreFaultMemory args, CancellationToken signal = default) => vcpu.PreFaultMemory(ref args, signal);

    public static KvmPreFaultMemory Range(ulong gpa, ulong size) => new() { Gpa = gpa, Size = size };

    /// <summary>The errno an action fails with; fails the test when it succeeds.</summary>
    public static Errno ErrnoOf(Action action)
    {
        var e = Assert.Throws<KvmException>(action);
        return e.Errno;
    }

    public static (ulong Gfn, Mmu.PageLevel Level, bool Private)? Leaf(this VmFd vm, ulong gpa) =>
        vm.Mmu.Lookup(gpa / K4) is { } l ? (l.Leaf.Gfn, l.Leaf.Level, l.Private) : null;
}
