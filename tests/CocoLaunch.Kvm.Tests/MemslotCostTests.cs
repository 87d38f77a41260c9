using CocoLaunch.Abi;
using CocoLaunch.Abi.Kvm;
using static CocoLaunch.Kvm.Tests.KvmSetup;

namespace CocoLaunch.Kvm.Tests;

/// <summary>
/// What a memslot costs the model: proportional to what it maps. 32,000 4 KiB slots once took 5.7 GB (a 64 KiB
/// allocation-bitmap directory per page store, and the VMM's region list copied on every mmap).
/// </summary>
public sealed class MemslotCostTests
{
    private const int Slots = 20_000;

    /// <summary>Per slot: a guest_memfd, a host mapping and the memslot. Generous next to the ~170 KiB it was.</summary>
    private const long BytesPerSlot = 4096;

    [Theory]
    [InlineData(KvmVmType.SwProtected, true)]
    [InlineData(KvmVmType.Default, false)]
    public void TwentyThousandSmallSlots_ManagedMemoryGrowsBoundedPerSlot(KvmVmType type, bool privateMemory)
    {
        var vm = Vm(type);
        vm.Slot(0, 0, K4, privateMemory ? vm.Gmem(K4) : null); // first-use costs (JIT, statics) stay out of the count
        long retainedBefore = GC.GetTotalMemory(forceFullCollection: true);
        long allocatedBefore = GC.GetAllocatedBytesForCurrentThread();

        for (uint i = 1; i <= Slots; i++)
        {
            ulong gpa = 0x1_0000_0000 + (i * 2 * K4); // a hole between neighbours, so no two slots could ever merge
            vm.Slot(i, gpa, K4, privateMemory ? vm.Gmem(K4) : null);
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
        long retained = GC.GetTotalMemory(forceFullCollection: true) - retainedBefore;
        Assert.True(retained < Slots * BytesPerSlot, $"{retained / Slots} bytes retained per slot (bound {BytesPerSlot})");
        Assert.True(allocated < Slots * 4 * BytesPerSlot, $"{allocated / Slots} bytes allocated per slot (bound {4 * BytesPerSlot}): something is copied per slot");
        GC.KeepAlive(vm);
    }
}
