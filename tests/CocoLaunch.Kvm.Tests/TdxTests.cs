using CocoLaunch.Abi;
using CocoLaunch.Abi.Kvm;
using CocoLaunch.Kvm.Mmu;
using static CocoLaunch.Kvm.Tests.KvmSetup;

namespace CocoLaunch.Kvm.Tests;

/// <summary>Group G of kvm-memory-model.md §14: the KVM_TDX_* commands on the KVM model.</summary>
public sealed class TdxTests
{
    private const ulong G = 0x80_0000;

    private static KvmTdxInitVm InitVmArgs() => new() { Attributes = 0x1000_0000, Xfam = 0x602E7, Cpuid = [KvmTdxInitVm.GuestPhysBits(48)] };

    private static VmFd InitializedTd()
    {
        var vm = Vm(KvmVmType.Tdx);
        vm.MemoryEncryptOp(new KvmTdxCmd { Id = KvmTdxCmdId.InitVm, Data = InitVmArgs() });
        return vm;
    }

    /// <summary>A TD with a private 4-page gmem slot at <see cref="G"/>, one initialised vCPU and a source buffer.</summary>
    private static (VmFd Vm, VcpuFd Vcpu, Memory.Hva Source) ReadyTd()
    {
        var vm = InitializedTd();
        var vcpu = vm.CreateVcpu(0);
        vm.Slot(0, G, 4 * K4, vm.Gmem(4 * K4));
        vm.SetAttributes(G, 4 * K4, isPrivate: true);
        vcpu.MemoryEncryptOp(new KvmTdxCmd { Id = KvmTdxCmdId.InitVcpu, Data = 0x80_9000UL });
        var source = vm.Kvm.Host.Map(4 * K4);
        vm.Kvm.Host.Write(source, Enumerable.Range(0, (int)(4 * K4)).Select(i => (byte)i).ToArray());
        return (vm, vcpu, source);
    }

    private static KvmTdxCmd MemRegion(Memory.Hva source, ulong gpa, ulong pages, uint flags = KvmTdxFlags.MeasureMemoryRegion) =>
        new() { Id = KvmTdxCmdId.InitMemRegion, Flags = flags, Data = new KvmTdxInitMemRegion { SourceAddr = source.Value, Gpa = gpa, NrPages = pages } };

    [Fact]
    public void Case105_HwErrorOnInput_Einval()
    {
        var vm = Vm(KvmVmType.Tdx);
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => vm.MemoryEncryptOp(new KvmTdxCmd { Id = KvmTdxCmdId.InitVm, HwError = 1, Data = InitVmArgs() })));
    }

    [Fact]
    public void Case106_UnknownVmCommand_Einval() => Assert.Equal(Errno.EINVAL, ErrnoOf(() => Vm(KvmVmType.Tdx).MemoryEncryptOp(new KvmTdxCmd { Id = (KvmTdxCmdId)99 })));

    [Fact]
    public void Case107_CapabilitiesFlagsOrNoRoom()
    {
        var vm = Vm(KvmVmType.Tdx);
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => vm.MemoryEncryptOp(new KvmTdxCmd { Id = KvmTdxCmdId.Capabilities, Flags = 1, Data = new KvmTdxCapabilities { CpuidNent = 16 } })));
        var tooSmall = new KvmTdxCapabilities { CpuidNent = 0 };
        Assert.Equal(Errno.E2BIG, ErrnoOf(() => vm.MemoryEncryptOp(new KvmTdxCmd { Id = KvmTdxCmdId.Capabilities, Data = tooSmall })));
        Assert.Equal(0u, tooSmall.CpuidNent); // tdx_get_capabilities copies nothing back on E2BIG
        var caps = new KvmTdxCapabilities { CpuidNent = 16 };
        vm.MemoryEncryptOp(new KvmTdxCmd { Id = KvmTdxCmdId.Capabilities, Data = caps });
        Assert.Equal((VmFd.TdxSupportedAttributes, 0xFFFFFUL, 3), (caps.SupportedAttrs, caps.SupportedXfam, caps.Cpuid.Count));
        Assert.Contains(caps.Cpuid, e => e.Function == 0x8000_0008);
    }

    [Fact]
    public void Case108_InitVmAfterCreateVcpu_Ebusy()
    {
        var vm = Vm(KvmVmType.Tdx);
        vm.CreateVcpu(0);
        Assert.Equal(Errno.EBUSY, ErrnoOf(() => vm.MemoryEncryptOp(new KvmTdxCmd { Id = KvmTdxCmdId.InitVm, Data = InitVmArgs() })));
    }

    [Fact]
    public void Case109_InitVmTwice_Einval()
    {
        var vm = InitializedTd();
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => vm.MemoryEncryptOp(new KvmTdxCmd { Id = KvmTdxCmdId.InitVm, Data = InitVmArgs() })));
    }

    [Fact]
    public void Case110_InitVmArgumentChecks()
    {
        Errno Try(Action<KvmTdxInitVm> change, uint flags = 0)
        {
            var args = InitVmArgs();
            change(args);
            return ErrnoOf(() => Vm(KvmVmType.Tdx).MemoryEncryptOp(new KvmTdxCmd { Id = KvmTdxCmdId.InitVm, Flags = flags, Data = args }));
        }

        Assert.Equal(Errno.E2BIG, Try(a => a.Cpuid = [.. Enumerable.Range(0, 257).Select(i => new KvmCpuidEntry2((uint)i, 0, 0, 0, 0, 0, 0))]));
        Assert.Equal(Errno.EINVAL, Try(a => a.Reserved[0] = 1));
        Assert.Equal(Errno.EINVAL, Try(a => a.CpuidPadding = 1));
        Assert.Equal(Errno.EINVAL, Try(_ => { }, flags: 1));
    }

    [Fact]
    public void Case111_NoPhysAddrLeafOrGpaw40_Einval()
    {
        var noLeaf = InitVmArgs();
        noLeaf.Cpuid = [];
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => Vm(KvmVmType.Tdx).MemoryEncryptOp(new KvmTdxCmd { Id = KvmTdxCmdId.InitVm, Data = noLeaf })));
        var gpaw40 = InitVmArgs();
        gpaw40.Cpuid = [KvmTdxInitVm.GuestPhysBits(40)];
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => Vm(KvmVmType.Tdx).MemoryEncryptOp(new KvmTdxCmd { Id = KvmTdxCmdId.InitVm, Data = gpaw40 })));
    }

    [Fact]
    public void Case112_InitVcpuBeforeInitVm_Einval()
    {
        var vcpu = Vm(KvmVmType.Tdx).CreateVcpu(0);
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => vcpu.MemoryEncryptOp(new KvmTdxCmd { Id = KvmTdxCmdId.InitVcpu, Data = 0UL })));
    }

    [Fact]
    public void Case113_InitVcpuTwiceOrWithFlags_Einval()
    {
        var vm = InitializedTd();
        var vcpu = vm.CreateVcpu(0);
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => vcpu.MemoryEncryptOp(new KvmTdxCmd { Id = KvmTdxCmdId.InitVcpu, Flags = 1, Data = 0UL })));
        vcpu.MemoryEncryptOp(new KvmTdxCmd { Id = KvmTdxCmdId.InitVcpu, Data = 0x80_9000UL });
        Assert.Equal(0x80_9000UL, vcpu.Tdx?.InitialRcx);
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => vcpu.MemoryEncryptOp(new KvmTdxCmd { Id = KvmTdxCmdId.InitVcpu, Data = 0UL })));
    }

    [Fact]
    public void Case114_InitMemRegionOnUninitialisedVcpu_Einval()
    {
        var vm = InitializedTd();
        var vcpu = vm.CreateVcpu(0);
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => vcpu.MemoryEncryptOp(MemRegion(vm.Kvm.Host.Map(K4), G, 1))));
    }

    [Fact]
    public void Case115_InitMemRegionArgumentChecks_Einval()
    {
        var (_, vcpu, source) = ReadyTd();
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => vcpu.MemoryEncryptOp(MemRegion(source, G, 1, flags: 2))));
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => vcpu.MemoryEncryptOp(MemRegion(source, G, 0))));
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => vcpu.MemoryEncryptOp(MemRegion(source.CheckedAdd(8), G, 1))));
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => vcpu.MemoryEncryptOp(MemRegion(source, G | (1UL << 47), 1))));
    }

    [Fact]
    public void Case116_NotPrivate_EinvalStructUnchanged()
    {
        var (vm, vcpu, source) = ReadyTd();
        vm.SetAttributes(G, 4 * K4, isPrivate: false);
        var cmd = MemRegion(source, G, 1);
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => vcpu.MemoryEncryptOp(cmd)));
        var region = (KvmTdxInitMemRegion)cmd.Data!;
        Assert.Equal((source.Value, G, 1UL), (region.SourceAddr, region.Gpa, region.NrPages));
    }

    [Fact]
    public void Case117_ThirdPageNotPrivate_ProgressWrittenBack()
    {
        var (vm, vcpu, source) = ReadyTd();
        vm.SetAttributes(G + (2 * K4), K4, isPrivate: false);
        var cmd = MemRegion(source, G, 4);
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => vcpu.MemoryEncryptOp(cmd)));
        var region = (KvmTdxInitMemRegion)cmd.Data!;
        Assert.Equal((source.Value + (2 * K4), G + (2 * K4), 2UL), (region.SourceAddr, region.Gpa, region.NrPages));
        Assert.Equal(2L, vm.Td!.PagesAdded);
    }

    [Fact]
    public void Case118_MeasureFlagChangesMrtdButBothAddThePage()
    {
        string Mrtd(uint flags)
        {
            var (vm, vcpu, source) = ReadyTd();
            vcpu.MemoryEncryptOp(MemRegion(source, G, 1, flags));
            vm.MemoryEncryptOp(new KvmTdxCmd { Id = KvmTdxCmdId.FinalizeVm });
            Assert.Equal(1L, vm.Td!.PagesAdded);
            return Convert.ToHexString(vm.Td.Mrtd);
        }

        Assert.NotEqual(Mrtd(0), Mrtd(KvmTdxFlags.MeasureMemoryRegion));
    }

    [Fact]
    public void Case119_FinalizeBeforeInitOrTwice_Einval()
    {
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => Vm(KvmVmType.Tdx).MemoryEncryptOp(new KvmTdxCmd { Id = KvmTdxCmdId.FinalizeVm })));
        var vm = InitializedTd();
        vm.MemoryEncryptOp(new KvmTdxCmd { Id = KvmTdxCmdId.FinalizeVm });
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => vm.MemoryEncryptOp(new KvmTdxCmd { Id = KvmTdxCmdId.FinalizeVm })));
    }

    [Fact]
    public void Case120_AfterFinalize_VcpuCommandsEinval()
    {
        var (vm, vcpu, source) = ReadyTd();
        vm.MemoryEncryptOp(new KvmTdxCmd { Id = KvmTdxCmdId.FinalizeVm });
        Assert.Equal(TdState.Runnable, vm.TdState);
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => vcpu.MemoryEncryptOp(MemRegion(source, G, 1))));
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => vcpu.MemoryEncryptOp(new KvmTdxCmd { Id = KvmTdxCmdId.InitVcpu, Data = 0UL })));
    }

    [Fact]
    public void Case121_FinalizeWithAPremappedPage_EinvalUntilRetried()
    {
        var (vm, vcpu, source) = ReadyTd();
        vcpu.MemoryEncryptOp(MemRegion(source, G, 1));
        var cmd = MemRegion(source.CheckedAdd(K4), G + K4, 1);
        using (vm.Td!.HoldSecureEptLock())
        {
            // The S-EPT leaf is built, then PAGE.ADD meets a busy tree: EBUSY, no progress, the leaf stays.
            Assert.Equal(Errno.EBUSY, ErrnoOf(() => vcpu.MemoryEncryptOp(cmd)));
        }

        var region = (KvmTdxInitMemRegion)cmd.Data!;
        Assert.Equal((G + K4, 1UL), (region.Gpa, region.NrPages));
        Assert.Equal(1L, vm.TdxPremappedPages);
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => vm.MemoryEncryptOp(new KvmTdxCmd { Id = KvmTdxCmdId.FinalizeVm })));
        Assert.Equal(TdState.Initialized, vm.TdState);

        // Retrying finds the leaf present and only PAGE.ADDs; then the TD finalizes with both pages measured.
        vcpu.MemoryEncryptOp(cmd);
        Assert.Equal(0L, vm.TdxPremappedPages);
        vm.MemoryEncryptOp(new KvmTdxCmd { Id = KvmTdxCmdId.FinalizeVm });
        Assert.Equal((TdState.Runnable, 2L, 32L), (vm.TdState, vm.Td.PagesAdded, vm.Td.Extends));
        Assert.Equal(new MmuStats(2, 0, 0), vm.Mmu.Stats);
    }

    [Fact]
    public void Case121_ZappingThePremappedPageLetsFinalizeProceed()
    {
        var (vm, vcpu, source) = ReadyTd();
        using (vm.Td!.HoldSecureEptLock())
        {
            Assert.Equal(Errno.EBUSY, ErrnoOf(() => vcpu.MemoryEncryptOp(MemRegion(source, G, 1))));
        }

        Assert.Equal(1L, vm.TdxPremappedPages);
        vm.SetAttributes(G, K4, isPrivate: false);
        Assert.Equal(0L, vm.TdxPremappedPages);
        vm.MemoryEncryptOp(new KvmTdxCmd { Id = KvmTdxCmdId.FinalizeVm });
        Assert.Equal((TdState.Runnable, 0L), (vm.TdState, vm.Td.PagesAdded));
    }

    [Fact]
    public void Case122_EveryPrivateMappingIs4K()
    {
        var (vm, vcpu, source) = ReadyTd();
        vcpu.MemoryEncryptOp(MemRegion(source, G, 2));
        vm.MemoryEncryptOp(new KvmTdxCmd { Id = KvmTdxCmdId.FinalizeVm });
        var args = Range(G, 4 * K4);
        vcpu.PreFaultMemory(ref args);
        Assert.Equal(new MmuStats(4, 0, 0), vm.Mmu.Stats);
        Assert.All(vm.Mmu.Dump(), r => Assert.Equal((PageLevel.Size4K, true), (r.Level, r.Private)));
    }

    [Fact]
    public void InitMemRegion_CopiesTheSourceIntoThePrivatePage()
    {
        var (vm, vcpu, source) = ReadyTd();
        vcpu.MemoryEncryptOp(MemRegion(source, G, 1));
        var page = new byte[K4];
        vm.Memslots[0].GuestMemfd!.Pages.Read(0, page);
        Assert.Equal(Enumerable.Range(0, (int)K4).Select(i => (byte)i), page);
    }
}
