using CocoLaunch.Abi;
using CocoLaunch.Kvm;
using CocoLaunch.Tests.Shared;
using CocoLaunch.Vmm.Exits;
using static CocoLaunch.Vmm.Tests.VmmSetup;

namespace CocoLaunch.Vmm.Tests;

/// <summary>
/// A guest that converts without end, with conversions that keep both sides (QEMU without discard): each page it
/// converts costs a shared and a private page, until the host memory limit stops it. The VMM's exit loop then
/// ends the run with one line naming the limit and where the guest was, rather than retrying the access.
/// </summary>
public sealed class HostMemoryLimitExitTests
{
    private const ulong Base = 0x1_0000_0000;
    private const int Pages = 16;

    [Fact]
    public void EndlessConversions_StopAtTheLimit_WithOneLineNamingItAndTheRip()
    {
        var profile = KvmProfile.Upstream with { HostMemoryLimit = 8 * K4 };
        var (vm, _, _) = ConversionVm(Base, Pages * K4, profile);
        var actions = Enumerable.Range(0, Pages).SelectMany(i =>
        {
            var gpa = new Gpa(Base + ((ulong)i * K4));
            return new GuestAction[] { new GuestAction.Write(gpa, [0x11]), MapGpa(gpa.Value, 1, toPrivate: true), new GuestAction.Write(gpa, [0x22]) };
        });
        var vcpu = vm.CreateVcpu(0);
        var guest = new ScriptedGuest([.. actions]);
        vcpu.SetGuest(guest);

        var outcome = new ExitLoop(vm, ConversionMode.Attributes).Run(vcpu);

        var fail = Assert.IsType<ExitOutcome.Fail>(outcome);
        Assert.Equal($"host memory limit of 32768 bytes reached: guest access to gpa 0x100004000 at RIP 0x{guest.State.Rip:x} (KVM_RUN failed with EFAULT)", fail.Problem);
        Assert.Equal(8 * K4, vm.Kvm.Host.Limit!.ChargedBytes);
    }
}
