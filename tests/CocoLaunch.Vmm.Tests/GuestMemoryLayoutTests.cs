using CocoLaunch.Abi;
using CocoLaunch.Spec;
using CocoLaunch.Vmm.Launch;

namespace CocoLaunch.Vmm.Tests;

/// <summary>The q35 RAM split (as QEMU's TD HOB builder uses it, tdx-mrtd.md §7) and the firmware slot.</summary>
public sealed class GuestMemoryLayoutTests
{
    private const ulong Fw = 0x20_0000;

    private static LaunchSpec Spec(KvmVmType platform, ulong size, params MemslotSpec[] slots) =>
        new("s.yaml", platform, new FirmwareSpec("fw", null, new SpecLocation("s.yaml", 1, 1)), null, 1, new MemorySpec(size, slots), null, null, null);

    [Theory]
    [InlineData(0x8000_0000UL, 0x8000_0000UL, 0UL)] // 2 GiB: all low
    [InlineData(0xA000_0000UL, 0xA000_0000UL, 0UL)] // 2.5 GiB: below 2.75 GiB stays low
    [InlineData(0xB000_0000UL, 0x8000_0000UL, 0x3000_0000UL)] // 2.75 GiB: split at 2 GiB
    [InlineData(0x1_0000_0000UL, 0x8000_0000UL, 0x8000_0000UL)] // 4 GiB
    public void Plan_MemorySize_SplitsLikeQ35(ulong size, ulong low, ulong high)
    {
        var plan = GuestMemoryLayout.Plan(Spec(KvmVmType.Tdx, size), Fw);
        Assert.Equal(new PlannedSlot(0, Gpa.Zero, low, true, false), plan[0]);
        if (high > 0)
        {
            Assert.Equal(new PlannedSlot(1, Gpa.FourGiB, high, true, false), plan[1]);
        }

        Assert.Equal(new PlannedSlot((uint)plan.Count - 1, new Gpa(0xFFE0_0000), Fw, true, true), plan[^1]);
        Assert.Equal(high > 0 ? 3 : 2, plan.Count);
    }

    [Fact]
    public void Plan_DefaultVm_SharedRamAndSharedFirmware()
    {
        var plan = GuestMemoryLayout.Plan(Spec(KvmVmType.Default, 0x4000_0000), Fw);
        Assert.All(plan, s => Assert.False(s.Private));
    }

    [Fact]
    public void Plan_SlotOverFirmware_IsRefused()
    {
        var spec = Spec(KvmVmType.Default, 0x1_0000_0000, new MemslotSpec(Gpa.Zero, 0x1_0000_0000, MemslotKind.Shared));
        var e = Assert.Throws<LaunchException>(() => GuestMemoryLayout.Plan(spec, Fw));
        Assert.Equal("memory slot [0x0,0x100000000) overlaps the firmware at [0xffe00000,0x100000000)", e.Message);
    }
}
