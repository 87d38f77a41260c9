using CocoLaunch.Abi;
using CocoLaunch.Abi.Kvm;
using CocoLaunch.Kvm;
using CocoLaunch.Memory;
using CocoLaunch.Tests.Shared;
using CocoLaunch.Vmm.Exits;
using static CocoLaunch.Vmm.Tests.VmmSetup;

namespace CocoLaunch.Vmm.Tests;

/// <summary>
/// Random sequences of attribute changes, conversions, pre-faults, slot delete/recreate, pins and guest
/// accesses. After every step: no GFN is mapped both private and shared, nothing is mapped outside a
/// memslot, an exact-range VM maps nothing outside what was requested or touched, and every page reads
/// back exactly what was last written to it.
/// </summary>
public sealed class MemoryModelPropertyTests
{
    private const ulong Base = 0x1_0000_0000;
    private const int Pages = 1024; // 4 MiB: two 2M regions, so hugepage and MIXED paths are exercised
    private const int Steps = 600;
    private const int HotPages = 32;

    public static TheoryData<int> Seeds => new() { 1, 2, 3, 4, 5, 6, 7, 8 };

    [Theory]
    [MemberData(nameof(Seeds))]
    public void InPlaceConversion_RandomOperations_KeepInvariantsAndData(int seed)
    {
        var random = new Random(seed);
        var profile = KvmProfile.Upstream with { GmemInPlaceConversion = true };
        var (vm, host, gmem) = ConversionVm(Base, Pages * K4, profile, GuestMemfdFlags.SupportShared);
        int gmemFd = FindGmemFd(vm, gmem);
        var vcpu = vm.CreateVcpu(0);
        var expected = new byte[Pages];
        var pins = new List<ulong>();
        bool slotPresent = true;

        for (int step = 0; step < Steps; step++)
        {
            // Half the operations hit a small hot window, so conversions meet mapped and written pages.
            int page = random.Next(2) == 0 ? random.Next(HotPages) : random.Next(Pages);
            int count = 1 + random.Next(Math.Min(random.Next(2) == 0 ? 4 : 64, Pages - page));
            int roll = random.Next(100);
            int op = roll switch { < 20 => 0, < 40 => 6, < 60 => 1, < 80 => 2, < 87 => 4, < 94 => 5, _ => 3 };
            switch (op)
            {
                case 0 when slotPresent: // guest writes through whatever view the page has now
                    byte value = (byte)random.Next(1, 256);
                    RunGuest(vm, vcpu, new GuestAction.Write(new Gpa(Base + ((ulong)page * K4)), [value]));
                    expected[page] = value;
                    break;
                case 1:
                    var args = new KvmGmemConvert { Offset = (ulong)page * K4, Size = (ulong)count * K4 };
                    try
                    {
                        if (random.Next(2) == 0)
                        {
                            gmem.ConvertPrivate(ref args);
                        }
                        else
                        {
                            gmem.ConvertShared(ref args);
                        }
                    }
                    catch (KvmException e) when (e.Errno == Errno.EAGAIN)
                    {
                        Assert.Contains(args.ErrorOffset / K4, pins); // only a pinned page can refuse
                    }

                    break;
                case 2 when slotPresent:
                    var range = new KvmPreFaultMemory { Gpa = Base + ((ulong)page * K4), Size = (ulong)count * K4 };
                    vcpu.PreFaultMemory(ref range);
                    Assert.Equal(0UL, range.Size);
                    break;
                case 3:
                    if (slotPresent)
                    {
                        vm.SetUserMemoryRegion2(new KvmUserspaceMemoryRegion2 { Slot = 0, GuestMemfd = -1 });
                    }
                    else
                    {
                        vm.SetUserMemoryRegion2(new KvmUserspaceMemoryRegion2 { Slot = 0, Flags = KvmMemFlags.GuestMemfd, GuestPhysAddr = Base, MemorySize = Pages * K4, UserspaceAddr = host.Value, GuestMemfd = gmemFd });
                    }

                    slotPresent = !slotPresent;
                    break;
                case 4 when !gmem.IsPrivatePage((ulong)page):
                    vm.Kvm.Host.Pin(new Hva(host.Value + ((ulong)page * K4)));
                    pins.Add((ulong)page);
                    break;
                case 5 when pins.Count > 0:
                    ulong unpin = pins[random.Next(pins.Count)];
                    vm.Kvm.Host.Unpin(new Hva(host.Value + (unpin * K4)));
                    pins.Remove(unpin);
                    break;
                case 6 when slotPresent: // guest reads back: nothing a conversion did may have lost data
                    var read = RunGuest(vm, vcpu, new GuestAction.Read(new Gpa(Base + ((ulong)page * K4)), 1));
                    Assert.Equal(expected[page], read!.Data![0]);
                    break;
            }

            CheckMappings(vm, exactRequests: null);
        }
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void ExactRangeCocoVm_RandomOperations_NeverMapsOutsideRequests(int seed)
    {
        var random = new Random(seed);
        var vm = new Kvm.Kvm(KvmProfile.Upstream with { GmemFolioSize = M2 }).CreateVm(KvmVmType.SwProtected);
        vm.PreFaultPolicy = Kvm.Mmu.PreFaultPolicy.ExactRange;
        int fd = vm.CreateGuestMemfd(new KvmCreateGuestMemfd { Size = Pages * K4 });
        var hva = vm.Kvm.Host.Map(Pages * K4, M2);
        var region = new KvmUserspaceMemoryRegion2 { Slot = 0, Flags = KvmMemFlags.GuestMemfd, GuestPhysAddr = Base, MemorySize = Pages * K4, UserspaceAddr = hva.Value, GuestMemfd = fd };
        vm.SetUserMemoryRegion2(region);
        var vcpu = vm.CreateVcpu(0);
        var requested = new bool[Pages];
        bool slotPresent = true;

        for (int step = 0; step < Steps; step++)
        {
            int page = random.Next(Pages);
            int count = 1 + random.Next(Math.Min(600, Pages - page));
            switch (random.Next(4))
            {
                case 0:
                    vm.SetMemoryAttributes(new KvmMemoryAttributesArgs { Address = Base + ((ulong)page * K4), Size = (ulong)count * K4, Attributes = random.Next(2) == 0 ? KvmMemoryAttributes.Private : 0 });
                    break;
                case 1 when slotPresent:
                    var range = new KvmPreFaultMemory { Gpa = Base + ((ulong)page * K4), Size = (ulong)count * K4 };
                    vcpu.PreFaultMemory(ref range);
                    Array.Fill(requested, true, page, count);
                    break;
                case 2:
                    vm.SetUserMemoryRegion2(slotPresent ? new KvmUserspaceMemoryRegion2 { Slot = 0, GuestMemfd = -1 } : region);
                    slotPresent = !slotPresent;
                    break;
                case 3:
                    Array.Clear(requested); // forget old requests: their mappings must already be gone or still inside
                    foreach (var r in vm.Mmu.Dump())
                    {
                        for (ulong a = r.Start.Value; a < r.End.Value; a += K4)
                        {
                            requested[(a - Base) / K4] = true;
                        }
                    }

                    break;
            }

            CheckMappings(vm, requested);
        }
    }

    private static int FindGmemFd(VmFd vm, GuestMemfd gmem)
    {
        for (int fd = 3; fd < 64; fd++)
        {
            try
            {
                if (ReferenceEquals(vm.Kvm.Fds.Get(fd), gmem))
                {
                    return fd;
                }
            }
            catch (KvmException)
            {
            }
        }

        throw new InvalidOperationException("guest_memfd fd not found");
    }

    private static GuestResult? RunGuest(VmFd vm, VcpuFd vcpu, GuestAction action)
    {
        var guest = new ScriptedGuest(action);
        vcpu.SetGuest(guest);
        var outcome = new ExitLoop(vm, ConversionMode.InPlace).Run(vcpu);
        Assert.Equal(new ExitOutcome.Stop("guest shut down (triple fault, or the guest program ended)"), outcome);
        return guest.Results.SingleOrDefault();
    }

    private static void CheckMappings(VmFd vm, bool[]? exactRequests)
    {
        var ranges = vm.Mmu.Dump();
        var privateRanges = ranges.Where(r => r.Private).ToList();
        foreach (var range in ranges)
        {
            if (!range.Private)
            {
                var clash = privateRanges.FirstOrDefault(p => p.Start.Value < range.End.Value && range.Start.Value < p.End.Value);
                Assert.True(clash is null, $"{range} overlaps private {clash}");
            }

            for (ulong gpa = range.Start.Value; gpa < range.End.Value; gpa += K4)
            {
                ulong gfn = gpa / K4;
                Assert.True(vm.Memslots.Any(s => s.Contains(gfn)), $"{range} maps gpa 0x{gpa:x} outside every memslot");
                if (exactRequests is not null)
                {
                    Assert.True(exactRequests[(gpa - Base) / K4], $"{range} maps gpa 0x{gpa:x}, which no pre-fault requested");
                }
            }
        }
    }
}
