using CocoLaunch.Abi;
using CocoLaunch.Abi.Kvm;

namespace CocoLaunch.Kvm.Tests;

/// <summary>
/// IPIs between vCPUs through the VM's APIC bus (<c>kvm_apic_send_ipi</c> → <c>kvm_irq_delivery_to_apic</c>): the
/// ICR's destination and shorthand pick the target APICs (Intel SDM vol. 3 §11.6.1), and what another thread sends
/// is posted and reaches the target's IRR when the target next looks (<c>apic_has_interrupt_for_ppr</c>).
/// </summary>
public sealed class ApicBusTests
{
    private const uint Fixed = 0, Nmi = 4 << 8, AllExcludingSelf = 3u << 18, AllIncludingSelf = 2u << 18;

    private static (LocalApic A, LocalApic B, LocalApic C) ThreeEnabledApics()
    {
        var vm = KvmSetup.Vm(KvmVmType.Default);
        vm.EnableCap(new KvmEnableCap { Cap = KvmCap.SplitIrqchip, Arg0 = 24 });
        var apics = Enumerable.Range(0, 3).Select(i => vm.CreateVcpu((uint)i).Apic!).ToArray();
        foreach (var apic in apics)
        {
            apic.TryWrite(LocalApic.Svr, 0x1FF);
        }

        return (apics[0], apics[1], apics[2]);
    }

    private static void Send(LocalApic from, uint low, uint destinationId)
    {
        Assert.True(from.TryWrite(LocalApic.IcrHigh, destinationId << 24));
        Assert.True(from.TryWrite(LocalApic.IcrLow, low));
    }

    [Fact]
    public void FixedIpi_ByPhysicalId_ReachesOnlyThatApic()
    {
        var (a, b, c) = ThreeEnabledApics();
        Send(a, Fixed | 0x51, destinationId: 1);
        Assert.Equal(0x51, b.PendingVector());
        Assert.Equal(-1, a.PendingVector());
        Assert.Equal(-1, c.PendingVector());
    }

    [Fact]
    public void Shorthands_AllExcludingSelf_AndAllIncludingSelf()
    {
        var (a, b, c) = ThreeEnabledApics();
        Send(a, Fixed | AllExcludingSelf | 0x61, destinationId: 0);
        Assert.Equal((-1, 0x61, 0x61), (a.PendingVector(), b.PendingVector(), c.PendingVector()));

        Send(b, Fixed | AllIncludingSelf | 0x72, destinationId: 0);
        Assert.Equal((0x72, 0x72, 0x72), (a.PendingVector(), b.PendingVector(), c.PendingVector()));
    }

    [Fact]
    public void NmiIpi_IsPending_OnTheTargetOnly()
    {
        var (a, b, c) = ThreeEnabledApics();
        Send(c, Nmi, destinationId: 0);
        a.PendingVector(); // the target's own look syncs what was posted
        b.PendingVector();
        Assert.True(a.NmiPending);
        Assert.False(b.NmiPending);
    }

    [Fact]
    public async Task PostFromAnotherThread_WakesAWaitingVcpu()
    {
        var (a, b, _) = ThreeEnabledApics();
        var waiter = Task.Run(() => b.WaitForPosted(TimeSpan.FromMinutes(5)));
        Assert.NotSame(waiter, await Task.WhenAny(waiter, Task.Delay(200))); // nothing posted: still blocked, as KVM's halt
        await Task.Run(() => Send(a, Fixed | 0x44, destinationId: 1));
        Assert.Same(waiter, await Task.WhenAny(waiter, Task.Delay(TimeSpan.FromSeconds(30))));
        Assert.Equal(0x44, b.PendingVector());
    }
}
