using System.Diagnostics;
using CocoLaunch.Abi;
using CocoLaunch.Abi.Kvm;
using CocoLaunch.Kvm;
using CocoLaunch.Kvm.Mmu;

namespace CocoLaunch.Vmm.Bench;

/// <summary>One measured pre-fault run.</summary>
public sealed record PreFaultResult(string Scenario, int Threads, ulong GuestBytes, MmuStats Stats, TimeSpan Elapsed, long ModelBytes)
{
    public long Leaves => Stats.Pages4K + Stats.Pages2M + Stats.Pages1G;

    /// <summary>4K pages covered per second (a 2M leaf covers 512).</summary>
    public double PagesPerSecond => GuestBytes / (double)PageSize.Size4K / Elapsed.TotalSeconds;

    public double BytesPerMappedPage => ModelBytes / (GuestBytes / (double)PageSize.Size4K);
}

/// <summary>
/// Pre-faults whole guests through KVM_PRE_FAULT_MEMORY on 1..N vCPUs and measures time and model memory.
/// Run by hand (<c>cocolaunch bench</c>), never as a timed unit test.
/// </summary>
public static class PreFaultBenchmark
{
    public enum Backing
    {
        /// <summary>Private guest_memfd memory: 4K leaves only, as for TDX private memory.</summary>
        Private4K,

        /// <summary>Shared anonymous memory on transparent huge pages: 2M leaves.</summary>
        Thp2M,

        /// <summary>Shared hugetlbfs memory: 1G leaves.</summary>
        Hugetlb1G,
    }

    public static PreFaultResult Run(Backing backing, ulong guestBytes, int threads)
    {
        const ulong Base = 0x1_0000_0000;
        long before = GC.GetTotalMemory(forceFullCollection: true);
        var (vm, vcpus) = Build(backing, Base, guestBytes, threads);

        ulong share = guestBytes / (ulong)threads;
        var clock = Stopwatch.StartNew();
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, i =>
        {
            var args = new KvmPreFaultMemory { Gpa = Base + ((ulong)i * share), Size = share };
            while (args.Size > 0)
            {
                vcpus[i].PreFaultMemory(ref args);
            }
        });
        clock.Stop();

        var stats = vm.Mmu.Stats;
        long after = GC.GetTotalMemory(forceFullCollection: true);
        GC.KeepAlive(vm);
        string name = backing switch
        {
            Backing.Private4K => "private guest_memfd, 4K (TDX-style)",
            Backing.Thp2M => "DEFAULT, THP 2M",
            _ => "DEFAULT, hugetlb 1G",
        };
        return new PreFaultResult(name, threads, guestBytes, stats, clock.Elapsed, after - before);
    }

    private static (VmFd Vm, VcpuFd[] Vcpus) Build(Backing backing, ulong gpa, ulong size, int threads)
    {
        var kvm = new Kvm.Kvm();
        var vm = kvm.CreateVm(backing == Backing.Private4K ? KvmVmType.SwProtected : KvmVmType.Default);
        ulong pageSize = backing switch { Backing.Thp2M => PageSize.Size2M, Backing.Hugetlb1G => PageSize.Size1G, _ => PageSize.Size4K };
        var region = new KvmUserspaceMemoryRegion2 { Slot = 0, GuestPhysAddr = gpa, MemorySize = size, UserspaceAddr = kvm.Host.Map(size, pageSize).Value, GuestMemfd = -1 };
        if (backing == Backing.Private4K)
        {
            region.Flags = KvmMemFlags.GuestMemfd;
            region.GuestMemfd = vm.CreateGuestMemfd(new KvmCreateGuestMemfd { Size = size });
            vm.PreFaultPolicy = PreFaultPolicy.ExactRange;
        }

        vm.SetUserMemoryRegion2(region);
        if (backing == Backing.Private4K)
        {
            vm.SetMemoryAttributes(new KvmMemoryAttributesArgs { Address = gpa, Size = size, Attributes = KvmMemoryAttributes.Private });
        }

        return (vm, Enumerable.Range(0, threads).Select(i => vm.CreateVcpu((uint)i)).ToArray());
    }
}
