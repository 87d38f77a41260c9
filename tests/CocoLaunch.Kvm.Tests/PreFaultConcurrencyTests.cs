using CocoLaunch.Abi;
using CocoLaunch.Abi.Kvm;
using CocoLaunch.Kvm.Mmu;
using static CocoLaunch.Kvm.Tests.KvmSetup;

namespace CocoLaunch.Kvm.Tests;

/// <summary>Case 76 (pre_fault_memory_test's delete_slot_worker) and the exact-range mapping rule.</summary>
public sealed class PreFaultConcurrencyTests
{
    private const ulong G = 0x1_0000_0000;

    [Theory]
    [InlineData(KvmVmType.Default)]
    [InlineData(KvmVmType.SwProtected)]
    public async Task Case076_PrefaultRacingSlotDeleteAndRecreate_ProgressXorError(KvmVmType type)
    {
        var vm = Vm(type);
        vm.Slot(0, G, 8 * M2);
        var vcpu = vm.CreateVcpu(0);
        using var stop = new CancellationTokenSource();
        int recreated = 0;
        var worker = Task.Run(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                vm.DeleteSlot(0);
                Thread.Yield();
                vm.Slot(0, G, 8 * M2);
                Interlocked.Increment(ref recreated);
            }
        });

        var seen = new HashSet<Errno>();
        var args = Range(G, 8 * M2);
        int calls = 0;
        var clock = System.Diagnostics.Stopwatch.StartNew();

        // Keep pre-faulting until the race has really been hit (an error seen, the worker cycled) or 20 s passed.
        while ((args.Size > 0 || seen.Count == 0 || Volatile.Read(ref recreated) < 10) && clock.Elapsed < TimeSpan.FromSeconds(20))
        {
            calls++;
            ulong before = args.Size;
            Errno? error = null;
            try
            {
                vcpu.PreFaultMemory(ref args);
            }
            catch (KvmException e)
            {
                error = e.Errno;
                seen.Add(e.Errno);
            }

            // Exactly one of "size shrank" and "error" holds after every call.
            Assert.True((args.Size < before) ^ (error is not null), $"call {calls}: size {before:x} -> {args.Size:x}, error {error}");
            Assert.True(error is null or Errno.EAGAIN or Errno.ENOENT, $"unexpected {error}");
            if (args.Size == 0 && (seen.Count == 0 || Volatile.Read(ref recreated) < 10))
            {
                args = Range(G, 8 * M2); // keep racing until the race has been observed
            }
        }

        await stop.CancelAsync();
        await worker;
        Assert.Equal(0UL, args.Size);
        Assert.NotEmpty(seen); // the race was real: some calls hit the slot while it was gone or invalid
    }

    [Fact]
    public void ExactRange_TdxPrivate_4KLeavesExactlyCoverTheRange()
    {
        var vm = Vm(KvmVmType.Tdx);
        vm.Slot(0, 0, 8 * M2, vm.Gmem(8 * M2));
        vm.SetAttributes(0, 8 * M2, isPrivate: true);
        vm.AllowPreFault();
        var vcpu = vm.CreateVcpu(0);
        foreach (var (gpa, size) in new[] { (0x80_0000UL, 0x6000UL), (0x80_9000UL, 0x2000UL), (0x81_0000UL, 0x1_0000UL) })
        {
            var args = Range(gpa, size);
            Assert.Equal(0, vcpu.PreFaultMemory(ref args));
        }

        Assert.Equal(
            [
                new MappedRange(new Gpa(0x80_0000), new Gpa(0x80_6000), PageLevel.Size4K, true, 6),
                new MappedRange(new Gpa(0x80_9000), new Gpa(0x80_B000), PageLevel.Size4K, true, 2),
                new MappedRange(new Gpa(0x81_0000), new Gpa(0x82_0000), PageLevel.Size4K, true, 16),
            ],
            vm.Mmu.Dump());
    }

    [Fact]
    public void ExactRange_HugeFolios_HugeLeafOnlyWhereWhollyInside()
    {
        // guest_memfd with 2M folios (hugetlb series) on a SW_PROTECTED VM switched to the exact rule.
        var vm = Vm(KvmVmType.SwProtected, KvmProfile.Upstream with { GmemFolioSize = M2 });
        vm.PreFaultPolicy = PreFaultPolicy.ExactRange;
        vm.Slot(0, G, 4 * M2, vm.Gmem(4 * M2));
        vm.SetAttributes(G, 4 * M2, isPrivate: true);
        var args = Range(G + M2 - (2 * K4), M2 + (4 * K4)); // two pages before region 1, all of it, two pages after
        Assert.Equal(0, vm.CreateVcpu(0).PreFaultMemory(ref args));
        Assert.Equal(
            [
                new MappedRange(new Gpa(G + M2 - (2 * K4)), new Gpa(G + M2), PageLevel.Size4K, true, 2),
                new MappedRange(new Gpa(G + M2), new Gpa(G + (2 * M2)), PageLevel.Size2M, true, 1),
                new MappedRange(new Gpa(G + (2 * M2)), new Gpa(G + (2 * M2) + (2 * K4)), PageLevel.Size4K, true, 2),
            ],
            vm.Mmu.Dump());
    }

    [Fact]
    public void UpstreamRule_HugeFolios_OvermapNeighbours()
    {
        var vm = Vm(KvmVmType.SwProtected, KvmProfile.Upstream with { GmemFolioSize = M2 });
        vm.Slot(0, G, 4 * M2, vm.Gmem(4 * M2));
        vm.SetAttributes(G, 4 * M2, isPrivate: true);
        var args = Range(G + M2 - (2 * K4), M2 + (4 * K4));
        Assert.Equal(0, vm.CreateVcpu(0).PreFaultMemory(ref args));
        Assert.Equal([new MappedRange(new Gpa(G), new Gpa(G + (3 * M2)), PageLevel.Size2M, true, 3)], vm.Mmu.Dump());
    }

    [Fact]
    public void DefaultVm_HugetlbBacking_Maps1GLeaves()
    {
        var vm = Vm(KvmVmType.Default);
        vm.Slot(0, G, 4 * G1, backing: G1);
        var args = Range(G, 4 * G1);
        Assert.Equal(0, vm.CreateVcpu(0).PreFaultMemory(ref args));
        Assert.Equal(new MmuStats(0, 0, 4), vm.Mmu.Stats);
        Assert.Equal([new MappedRange(new Gpa(G), new Gpa(G + (4 * G1)), PageLevel.Size1G, false, 4)], vm.Mmu.Dump());
    }
}
