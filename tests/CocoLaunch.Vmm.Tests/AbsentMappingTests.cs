using CocoLaunch.Abi;
using CocoLaunch.Abi.Kvm;
using CocoLaunch.Kvm;
using CocoLaunch.Tests.Shared;
using CocoLaunch.Vmm.Exits;
using static CocoLaunch.Vmm.Tests.VmmSetup;

namespace CocoLaunch.Vmm.Tests;

/// <summary>Group J, case 153 (absent-mapping RFC): a missing host page exits instead of blocking; the VMM populates it.</summary>
public sealed class AbsentMappingTests
{
    private const ulong Base = 0x1_0000_0000;
    private static readonly KvmProfile Rfc = KvmProfile.Upstream with { AbsentMappingFault = true };

    private static VmFd PostcopyVm(ulong size)
    {
        var vm = new Kvm.Kvm(Rfc).CreateVm(KvmVmType.Default);
        var hva = vm.Kvm.Host.Map(size, missingUntilPopulated: true);
        vm.SetUserMemoryRegion(new KvmUserspaceMemoryRegion { Slot = 0, Flags = KvmMemFlags.AbsentMappingFault, GuestPhysAddr = Base, MemorySize = size, UserspaceAddr = hva.Value });
        return vm;
    }

    [Fact]
    public void Case153_AbsentPage_MemoryFaultThenPopulateAndRetry()
    {
        var vm = PostcopyVm(M2);
        Assert.Equal(1UL, vm.CheckExtension(KvmCap.MemoryFaultNowait));
        var vcpu = vm.CreateVcpu(0);
        vcpu.SetGuest(new ScriptedGuest(new GuestAction.Read(new Gpa(Base + K4), 8)));
        var exit = Assert.IsType<KvmExit.MemoryFault>(vcpu.Run());
        Assert.Equal((Errno.EFAULT, new MemoryFault(new Gpa(Base + K4), K4, KvmMemoryExitFlags.AbsentMapping)), (exit.Errno, exit.Info));

        Assert.Equal(ExitOutcome.Continue, ExitHandlers.AbsentMapping(vm, exit));
        Assert.IsType<KvmExit.Shutdown>(vcpu.Run());
    }

    [Fact]
    public void WithoutTheRfc_Bit2OnV1_Einval()
    {
        var vm = new Kvm.Kvm().CreateVm(KvmVmType.Default);
        var e = Assert.Throws<KvmException>(() => vm.SetUserMemoryRegion(new KvmUserspaceMemoryRegion { Slot = 0, Flags = KvmMemFlags.AbsentMappingFault, GuestPhysAddr = Base, MemorySize = M2, UserspaceAddr = vm.Kvm.Host.Map(M2).Value }));
        Assert.Equal(Errno.EINVAL, e.Errno);
    }

    /// <summary>
    /// Many vCPUs fault the same absent region at once: each gets its own exit and populates its own page,
    /// with no shared queue — every vCPU finishes, and the exits add up to one per page.
    /// </summary>
    [Fact]
    public async Task ManyVcpus_FaultSameRegion_WithoutSerialising()
    {
        const int Vcpus = 8;
        const int PagesEach = 64;
        var vm = PostcopyVm(Vcpus * PagesEach * K4);
        var loops = new ExitLoop[Vcpus];
        var tasks = Enumerable.Range(0, Vcpus).Select(i => Task.Run(() =>
        {
            var actions = Enumerable.Range(0, PagesEach).Select(p => (GuestAction)new GuestAction.Read(new Gpa(Base + ((ulong)((p * Vcpus) + i) * K4)), 8)).ToArray();
            var vcpu = vm.CreateVcpu((uint)i);
            vcpu.SetGuest(new ScriptedGuest(actions));
            loops[i] = new ExitLoop(vm, ConversionMode.Attributes);
            return loops[i].Run(vcpu);
        })).ToArray();

        var outcomes = await Task.WhenAll(tasks);
        Assert.All(outcomes, o => Assert.Equal(new ExitOutcome.Stop("guest shut down (triple fault, or the guest program ended)"), o));
        Assert.Equal(Vcpus * (PagesEach + 1), loops.Sum(l => l.ExitCount)); // one absent-mapping exit per page, plus each shutdown
    }
}
