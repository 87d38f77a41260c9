using CocoLaunch.Tests.Shared;
using CocoLaunch.Abi;
using CocoLaunch.Abi.Kvm;
using CocoLaunch.Kvm;

namespace CocoLaunch.Vmm.Tests;

internal static class VmmSetup
{
    public const ulong K4 = PageSize.Size4K;
    public const ulong M2 = PageSize.Size2M;

    /// <summary>A VM with one guest_memfd-backed slot at <paramref name="gpa"/> and MAP_GPA_RANGE exits enabled.</summary>
    public static (VmFd Vm, Memory.Hva Host, Memory.GuestMemfd Gmem) ConversionVm(ulong gpa, ulong size, KvmProfile? profile = null, GuestMemfdFlags gmemFlags = 0)
    {
        var vm = new Kvm.Kvm(profile).CreateVm(KvmVmType.SwProtected);
        int fd = vm.CreateGuestMemfd(new KvmCreateGuestMemfd { Size = size, Flags = gmemFlags });
        var gmem = vm.Kvm.Fds.Get<Memory.GuestMemfd>(fd);
        var host = gmemFlags.HasFlag(GuestMemfdFlags.Mmap) ? vm.Kvm.Host.MapGuestMemfd(gmem, 0, size, shared: true) : vm.Kvm.Host.Map(size);
        vm.SetUserMemoryRegion2(new KvmUserspaceMemoryRegion2 { Slot = 0, Flags = KvmMemFlags.GuestMemfd, GuestPhysAddr = gpa, MemorySize = size, UserspaceAddr = host.Value, GuestMemfd = fd });
        vm.EnableCap(new KvmEnableCap { Cap = KvmCap.ExitHypercall, Arg0 = KvmLimits.ExitHypercallValidMask });
        return (vm, host, gmem);
    }

    public static byte[] Fill(byte value, ulong length) => Enumerable.Repeat(value, (int)length).ToArray();

    public static GuestAction MapGpa(ulong gpa, ulong pages, bool toPrivate) =>
        new GuestAction.Hypercall(KvmLimits.HcMapGpaRange, gpa, pages, toPrivate ? 0x10UL : 0);
}
