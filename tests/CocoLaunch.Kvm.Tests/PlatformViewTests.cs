using CocoLaunch.Abi;
using CocoLaunch.Abi.Kvm;
using CocoLaunch.Kvm.Mmu;
using CocoLaunch.Tests.Shared;
using static CocoLaunch.Kvm.Tests.KvmSetup;

namespace CocoLaunch.Kvm.Tests;

/// <summary>Platform-specific stage-2 views: the SNP prepare (RMP) hook and the TDX shared alias.</summary>
public sealed class PlatformViewTests
{
    private const ulong G = 0x1_0000_0000;

    private sealed class RecordingRmp(ulong? refuse = null) : IPrivateMemoryPrepare
    {
        public List<(ulong Gfn, ulong Count)> Calls { get; } = [];

        public void Prepare(VmFd vm, ulong gfn, ulong count, CocoLaunch.Kvm.Mmu.PageLevel level)
        {
            if (refuse is { } r && r >= gfn && r < gfn + count)
            {
                throw new KvmException(Errno.EFAULT, $"RMP entry of gfn 0x{r:x} is not hypervisor-owned");
            }

            Calls.Add((gfn, count));
        }
    }

    [Fact]
    public void SnpPrivatePrefault_RunsThePrepareHookForExactlyTheMappedPages()
    {
        var vm = Vm(KvmVmType.Snp);
        var rmp = new RecordingRmp();
        vm.PrivateMemoryPrepare = rmp;
        vm.Slot(0, G, 4 * M2, vm.Gmem(4 * M2));
        vm.SetAttributes(G, 4 * M2, isPrivate: true);
        vm.AllowPreFault();
        var args = Range(G + K4, M2);
        vm.CreateVcpu(0).PreFaultMemory(ref args);
        Assert.Equal(M2, (ulong)rmp.Calls.Sum(c => (long)c.Count) * K4);
        Assert.Equal((G + K4) / K4, rmp.Calls[0].Gfn);
        Assert.Equal([(G + K4) / K4, (G + M2) / K4], rmp.Calls.Select(c => c.Gfn)); // one run per 2M region
    }

    [Fact]
    public void SnpPrepareRefusal_StopsThePrefaultAtThatPage()
    {
        var vm = Vm(KvmVmType.Snp);
        vm.PrivateMemoryPrepare = new RecordingRmp(refuse: G / K4);
        vm.Slot(0, G, M2, vm.Gmem(M2));
        vm.SetAttributes(G, M2, isPrivate: true);
        vm.AllowPreFault();
        var vcpu = vm.CreateVcpu(0);
        var args = Range(G, K4);
        Assert.Equal(Errno.EFAULT, ErrnoOf(() => vcpu.PreFaultMemory(ref args)));
        Assert.Equal(new MemoryFault(new Gpa(G), K4, KvmMemoryExitFlags.Private), vcpu.LastMemoryFault);
        Assert.Null(vm.Leaf(G));
    }

    [Fact]
    public void TdxSharedAliasAccess_MapsTheSharedEptAndDumpsAtTheAlias()
    {
        var vm = Vm(KvmVmType.Tdx);
        vm.Slot(0, G, M2, vm.Gmem(M2));
        vm.SetAttributes(G, K4, isPrivate: true); // first page private, the rest shared
        var vcpu = vm.RunnableTd();
        ulong alias = 1UL << 47;
        vcpu.SetGuest(new ScriptedGuest(new GuestAction.Write(new Gpa(alias | (G + K4)), [0x42]), new GuestAction.Read(new Gpa(G + K4), 1, Private: false)));
        Assert.IsType<KvmExit.Shutdown>(vcpu.Run());
        Assert.Equal([new MappedRange(new Gpa(alias | (G + K4)), new Gpa(alias | (G + (2 * K4))), PageLevel.Size4K, false, 1)], vm.Mmu.Dump());
    }

    [Fact]
    public unsafe void SnpPrivateAccessOutsideEveryMemslot_IsMmio()
    {
        // OVMF's SEC reads the local APIC with the C-bit set; on SNP that "requires special handling on the
        // hypervisor side" (edk2 PR #5428): KVM takes it as MMIO, not as a memory fault for userspace to convert.
        var vm = Vm(KvmVmType.Snp);
        vm.Slot(0, G, M2, vm.Gmem(M2));
        var platform = new VcpuPlatform(vm, vm.CreateVcpu(0).Backend);
        Assert.True(platform.RamPage(0xFEE0_0000 / K4, isPrivate: true, write: false) == null);
    }
}
