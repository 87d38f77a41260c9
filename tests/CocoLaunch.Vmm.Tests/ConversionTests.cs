using CocoLaunch.Abi;
using CocoLaunch.Abi.Kvm;
using CocoLaunch.Kvm;
using CocoLaunch.Tests.Shared;
using CocoLaunch.Vmm.Exits;
using static CocoLaunch.Vmm.Tests.VmmSetup;

namespace CocoLaunch.Vmm.Tests;

/// <summary>
/// Cases 101–104 (private_mem_conversions_test) through the VMM's exit loop and handlers. Each guest writes
/// a pattern, converts, and reads back; what it reads is exactly what the conversion mode promises.
/// </summary>
public sealed class ConversionTests
{
    private const ulong Base = 0x1_0000_0000;

    public static TheoryData<ulong, ulong> Ranges => new()
    {
        { 0, K4 },
        { 0, M2 },
        { K4, K4 },
        { K4, M2 },
        { M2, K4 },
    };

    [Theory]
    [MemberData(nameof(Ranges))]
    public void Case101_ExplicitConversion_HostSeesOnlySharedPattern(ulong offset, ulong size)
    {
        var (vm, host, _) = ConversionVm(Base, M2 + K4);
        ulong gpa = Base + offset;
        var guest = new ScriptedGuest(
            new GuestAction.Write(new Gpa(gpa), [0x11]), // shared pattern
            MapGpa(gpa, size / K4, toPrivate: true),
            new GuestAction.Write(new Gpa(gpa), [0x22]), // private write
            new GuestAction.Read(new Gpa(gpa), 1),
            MapGpa(gpa, size / K4, toPrivate: false),
            new GuestAction.Read(new Gpa(gpa), 1));
        var vcpu = vm.CreateVcpu(0);
        vcpu.SetGuest(guest);

        var outcome = new ExitLoop(vm, ConversionMode.Attributes).Run(vcpu);

        Assert.Equal(new ExitOutcome.Stop("guest shut down (triple fault, or the guest program ended)"), outcome);
        Assert.Equal(0x22, guest.Results[3].Data![0]); // the guest sees its private write
        Assert.Equal(0x11, guest.Results[5].Data![0]); // back to shared: the shared pattern, untouched
        var seen = new byte[1];
        vm.Kvm.Host.Read(new Memory.Hva(host.Value + offset), seen);
        Assert.Equal(0x11, seen[0]); // the host never saw the private write
        Assert.Equal([0UL, 0UL], guest.Results.Where(r => r.Rax is not null).Select(r => r.Rax!.Value));
    }

    [Fact]
    public void Case102_ConversionWithDiscard_RoundTripReadsZeros()
    {
        var (vm, _, gmem) = ConversionVm(Base, M2);
        var guest = new ScriptedGuest(
            new GuestAction.Write(new Gpa(Base), [0x11]),
            MapGpa(Base, 1, toPrivate: true),
            new GuestAction.Read(new Gpa(Base), 1), // shared pages were discarded: private page starts zeroed
            new GuestAction.Write(new Gpa(Base), [0x22]),
            MapGpa(Base, 1, toPrivate: false),
            new GuestAction.Read(new Gpa(Base), 1),
            MapGpa(Base, 1, toPrivate: true),
            new GuestAction.Read(new Gpa(Base), 1)); // the hole punched on the way to shared: zeros again
        var vcpu = vm.CreateVcpu(0);
        vcpu.SetGuest(guest);

        new ExitLoop(vm, ConversionMode.AttributesWithDiscard).Run(vcpu);

        var reads = guest.Results.Where(r => r.Data is { Length: 1 }).Select(r => r.Data![0]).ToList();
        Assert.Equal([0x00, 0x00, 0x00], reads);
        Assert.Equal(1L, gmem.Pages.PageCount); // only the page re-faulted by the last read exists
    }

    [Fact]
    public void Case103_PunchHoleWhileMapped_ZapsAndRereadsZeros()
    {
        var (vm, _, gmem) = ConversionVm(Base, M2);
        vm.SetMemoryAttributes(new KvmMemoryAttributesArgs { Address = Base, Size = M2, Attributes = KvmMemoryAttributes.Private });
        var vcpu = vm.CreateVcpu(0);
        var first = new ScriptedGuest(new GuestAction.Write(new Gpa(Base + K4), [0x5A]), new GuestAction.Read(new Gpa(Base + K4), 1));
        vcpu.SetGuest(first);
        new ExitLoop(vm, ConversionMode.Attributes).Run(vcpu);
        Assert.Equal(0x5A, first.Results[1].Data![0]);
        Assert.NotNull(vm.Mmu.Lookup((Base + K4) / K4));

        gmem.Fallocate(FallocateMode.KeepSize | FallocateMode.PunchHole, K4, K4);
        Assert.Null(vm.Mmu.Lookup((Base + K4) / K4));

        var second = new ScriptedGuest(new GuestAction.Read(new Gpa(Base + K4), 1));
        vcpu.SetGuest(second);
        new ExitLoop(vm, ConversionMode.Attributes).Run(vcpu);
        Assert.Equal(0, second.Results[0].Data![0]);
    }

    [Fact]
    public void Case104_TwoVcpusTwoSlotsOneGmem_ConvertIndependently()
    {
        var vm = new Kvm.Kvm().CreateVm(KvmVmType.SwProtected);
        int fd = vm.CreateGuestMemfd(new KvmCreateGuestMemfd { Size = 2 * M2 });
        for (uint i = 0; i < 2; i++)
        {
            vm.SetUserMemoryRegion2(new KvmUserspaceMemoryRegion2
            {
                Slot = i, Flags = KvmMemFlags.GuestMemfd, GuestPhysAddr = Base + (i * 0x4000_0000), MemorySize = M2,
                UserspaceAddr = vm.Kvm.Host.Map(M2).Value, GuestMemfd = fd, GuestMemfdOffset = i * M2,
            });
        }

        vm.EnableCap(new KvmEnableCap { Cap = KvmCap.ExitHypercall, Arg0 = KvmLimits.ExitHypercallValidMask });
        var results = new List<byte>();
        for (uint i = 0; i < 2; i++)
        {
            ulong gpa = Base + (i * 0x4000_0000);
            var guest = new ScriptedGuest(MapGpa(gpa, 512, toPrivate: true), new GuestAction.Write(new Gpa(gpa), [(byte)(0x40 + i)]), new GuestAction.Read(new Gpa(gpa), 1));
            var vcpu = vm.CreateVcpu(i);
            vcpu.SetGuest(guest);
            new ExitLoop(vm, ConversionMode.Attributes).Run(vcpu);
            results.Add(guest.Results[^1].Data![0]);
        }

        Assert.Equal([0x40, 0x41], results);
        var file = vm.Kvm.Fds.Get<Memory.GuestMemfd>(fd);
        var page = new byte[1];
        file.Pages.Read(M2, page);
        Assert.Equal(0x41, page[0]); // vCPU 1's private write landed in the second half of the one file
    }

    /// <summary>
    /// A TD's private access to a shared GFN is a memory-fault exit, and the handler converts the GFN; the access then
    /// meets a page PAGE.AUG added pending, which the TD never accepted: with SEPT_VE_DISABLE that kills the VM
    /// (<c>tdx_is_sept_violation_unexpected_pending</c> in arch/x86/kvm/vmx/tdx.c: "Guest access before accepting").
    /// </summary>
    [Fact]
    public void ImplicitConversion_MemoryFaultHandlerFlipsAttribute_ThenTheUnacceptedPageKillsTheTd()
    {
        var vm = new Kvm.Kvm().CreateVm(KvmVmType.Tdx).WithTdIrqchip();
        var vcpu = vm.RunnableTd();
        int fd = vm.CreateGuestMemfd(new KvmCreateGuestMemfd { Size = M2 });
        vm.SetUserMemoryRegion2(new KvmUserspaceMemoryRegion2 { Slot = 0, Flags = KvmMemFlags.GuestMemfd, GuestPhysAddr = Base, MemorySize = M2, UserspaceAddr = vm.Kvm.Host.Map(M2).Value, GuestMemfd = fd });
        vcpu.SetGuest(new ScriptedGuest(new GuestAction.Write(new Gpa(Base), [7], Private: true)));

        var loop = new ExitLoop(vm, ConversionMode.Attributes);
        Assert.Equal(new ExitOutcome.Fail($"KVM_RUN failed with EIO: the TD accessed private GPA {new Gpa(Base)} before accepting it"), loop.Run(vcpu));
        Assert.Equal(1, loop.ExitCount); // the memory-fault exit; then KVM_RUN fails
        Assert.Equal(KvmMemoryAttributes.Private, vm.AttributesOf(Base / K4));
        Assert.Equal(Errno.EIO, KvmSetupErrno(() => vcpu.Run())); // the VM is dead for good
    }

    private static Errno KvmSetupErrno(Action run)
    {
        try
        {
            run();
            return 0;
        }
        catch (KvmException e)
        {
            return e.Errno;
        }
    }

    [Fact]
    public void ImplicitConversion_RepeatedFault_FailsInsteadOfLooping()
    {
        var vm = new Kvm.Kvm().CreateVm(KvmVmType.SwProtected);
        vm.SetUserMemoryRegion2(new KvmUserspaceMemoryRegion2 { Slot = 0, GuestPhysAddr = Base, MemorySize = M2, UserspaceAddr = vm.Kvm.Host.Map(M2).Value, GuestMemfd = -1 });
        vm.SetMemoryAttributes(new KvmMemoryAttributesArgs { Address = Base, Size = K4, Attributes = KvmMemoryAttributes.Private });
        var vcpu = vm.CreateVcpu(0);
        vcpu.SetGuest(new ScriptedGuest(new GuestAction.Read(new Gpa(Base), 1, Private: true)));

        // The slot has no guest_memfd, so converting cannot help: the second identical fault stops the loop.
        var outcome = new ExitLoop(vm, ConversionMode.Attributes).Run(vcpu);
        Assert.Equal(new ExitOutcome.Fail($"memory fault at {new Gpa(Base)} repeated after conversion (EFAULT)"), outcome);
    }
}
