using CocoLaunch.Abi;
using CocoLaunch.Abi.Kvm;
using CocoLaunch.Firmware.Snp;
using static CocoLaunch.Kvm.Tests.KvmSetup;

namespace CocoLaunch.Kvm.Tests;

/// <summary>Group H of kvm-memory-model.md §14: the KVM_SEV_SNP_LAUNCH_* commands, and the VMSA/PAGE_INFO layouts.</summary>
public sealed class SnpTests
{
    private const ulong G = 0x80_0000;

    private static KvmSevCmd Start(ulong policy = 0x30000, ushort flags = 0) =>
        new() { Id = KvmSevCmdId.SnpLaunchStart, Data = new KvmSevSnpLaunchStart { Policy = policy, Flags = flags } };

    private static KvmSevCmd Update(ulong gpa, ulong len, SnpPageType type, ulong uaddr = 0, ushort flags = 0) =>
        new() { Id = KvmSevCmdId.SnpLaunchUpdate, Data = new KvmSevSnpLaunchUpdate { GfnStart = gpa / K4, Len = len, Type = (byte)type, Uaddr = uaddr, Flags = flags } };

    private static (VmFd Vm, Memory.Hva Source) Started(ulong slotBytes = 8 * K4)
    {
        var vm = Vm(KvmVmType.Snp);
        vm.Slot(0, G, slotBytes, vm.Gmem(slotBytes));
        vm.SetAttributes(G, slotBytes, isPrivate: true);
        vm.MemoryEncryptOp(Start());
        var source = vm.Kvm.Host.Map(8 * K4);
        vm.Kvm.Host.Write(source, Enumerable.Repeat((byte)0x5A, (int)(8 * K4)).ToArray());
        return (vm, source);
    }

    [Fact]
    public void Case128_NotSnp_Enotty() => Assert.Equal(Errno.ENOTTY, ErrnoOf(() => Vm(KvmVmType.Tdx).MemoryEncryptOp(Start())));

    [Fact]
    public void Case129_StartTwice_Einval()
    {
        var (vm, _) = Started();
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => vm.MemoryEncryptOp(Start())));
    }

    [Fact]
    public void Case130_StartFlags_Einval()
    {
        for (int i = 1; i <= 7; i++)
        {
            ushort flags = (ushort)(1 << i);
            Assert.Equal(Errno.EINVAL, ErrnoOf(() => Vm(KvmVmType.Snp).MemoryEncryptOp(Start(flags: flags))));
        }
    }

    [Fact]
    public void Case131_PolicyWithoutReservedBitOrSingleSocket_Einval()
    {
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => Vm(KvmVmType.Snp).MemoryEncryptOp(Start(policy: 0x10000))));
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => Vm(KvmVmType.Snp).MemoryEncryptOp(Start(policy: 0x130000))));
    }

    [Fact]
    public void Case132_LegacyCommandOnSnp_Eperm() =>
        Assert.Equal(Errno.EPERM, ErrnoOf(() => Vm(KvmVmType.Snp).MemoryEncryptOp(new KvmSevCmd { Id = (KvmSevCmdId)2 })));

    [Fact]
    public void Case133_UpdateBeforeStart_Einval()
    {
        var vm = Vm(KvmVmType.Snp);
        vm.Slot(0, G, 8 * K4, vm.Gmem(8 * K4));
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => vm.MemoryEncryptOp(Update(G, K4, SnpPageType.Zero))));
    }

    [Fact]
    public void Case134_PageTypes()
    {
        var (vm, source) = Started();
        foreach (byte bad in new byte[] { 0, 2, 7 })
        {
            Assert.Equal(Errno.EINVAL, ErrnoOf(() => vm.MemoryEncryptOp(Update(G, K4, (SnpPageType)bad, source.Value))));
        }

        ulong gpa = G;
        foreach (var ok in new[] { SnpPageType.Normal, SnpPageType.Zero, SnpPageType.Unmeasured, SnpPageType.Secrets })
        {
            vm.MemoryEncryptOp(Update(gpa, K4, ok, source.Value));
            gpa += K4;
        }

        Assert.Equal(4, vm.Snp!.Updates);
    }

    [Fact]
    public void Case135_UnalignedLenOrFlags_Einval()
    {
        var (vm, source) = Started();
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => vm.MemoryEncryptOp(Update(G, 0x800, SnpPageType.Normal, source.Value))));
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => vm.MemoryEncryptOp(Update(G, K4, SnpPageType.Normal, source.Value, flags: 1))));
    }

    [Fact]
    public void Case136_SlotWithoutGmem_Einval()
    {
        var vm = Vm(KvmVmType.Snp);
        vm.Slot(0, G, 8 * K4);
        vm.MemoryEncryptOp(Start());
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => vm.MemoryEncryptOp(Update(G, K4, SnpPageType.Zero))));
    }

    [Fact]
    public void Case137_NotPrivate_Eio()
    {
        var (vm, _) = Started();
        vm.SetAttributes(G, K4, isPrivate: false);
        var cmd = Update(G, K4, SnpPageType.Zero);
        Assert.Equal(Errno.EIO, ErrnoOf(() => vm.MemoryEncryptOp(cmd)));
        Assert.Equal(0u, cmd.Error);
    }

    [Fact]
    public void Case138_SameGfnTwice_SecondEio()
    {
        var (vm, source) = Started();
        vm.MemoryEncryptOp(Update(G, K4, SnpPageType.Normal, source.Value));
        var again = Update(G, K4, SnpPageType.Normal, source.Value);
        Assert.Equal(Errno.EIO, ErrnoOf(() => vm.MemoryEncryptOp(again)));
        Assert.Equal((uint)SnpStatus.InvalidParam, again.Error);
    }

    [Fact]
    public void Case134_CpuidOnARandomPage_EioInvalidParam()
    {
        var (vm, source) = Started(); // 0x5A bytes: the page claims 0x5A5A5A5A entries
        var cmd = Update(G, K4, SnpPageType.Cpuid, source.Value);
        Assert.Equal(Errno.EIO, ErrnoOf(() => vm.MemoryEncryptOp(cmd)));
        Assert.Equal((uint)SnpStatus.InvalidParam, cmd.Error);
    }

    [Fact]
    public void Case139_BadCpuidLeaf_EioAndTheSourceHoldsTheCorrectedPage()
    {
        // The platform lacks CPUID 1 ECX bit 31; the VMM's page claims it.
        var platform = new SnpCpuidPolicy([new CpuidFunction(1, 0, 0xFFFF_FFFF, 0xFFFF_FFFF, 0x7FFF_FFFF, 0xFFFF_FFFF)]);
        var vm = new Kvm { SnpCpuidPolicy = platform }.CreateVm(KvmVmType.Snp);
        vm.Slot(0, G, 2 * K4, vm.Gmem(2 * K4));
        vm.SetAttributes(G, 2 * K4, isPrivate: true);
        vm.MemoryEncryptOp(Start());
        var page = new byte[K4];
        page[0] = 2;
        CpuidPage.SetEntry(page, 0, new CpuidFunction(0, 0, 0x10, 0x6874_7541, 0x444D_4163, 0x6974_6E65));
        CpuidPage.SetEntry(page, 1, new CpuidFunction(1, 0, 0xA20F10, 0x800, 0xFEDA_3203, 0x178B_FBFF));
        var source = vm.Kvm.Host.Map(K4);
        vm.Kvm.Host.Write(source, page);

        var cmd = Update(G, K4, SnpPageType.Cpuid, source.Value);
        Assert.Equal(Errno.EIO, ErrnoOf(() => vm.MemoryEncryptOp(cmd)));
        Assert.Equal(0x16u, cmd.Error);
        var u = (KvmSevSnpLaunchUpdate)cmd.Data!;
        Assert.Equal((G / K4, K4, source.Value), (u.GfnStart, u.Len, u.Uaddr));

        var corrected = new byte[K4];
        vm.Kvm.Host.Read(source, corrected);
        Assert.Equal(new CpuidFunction(1, 0, 0xA20F10, 0x800, 0x7EDA_3203, 0x178B_FBFF), CpuidPage.Entry(corrected, 1));
        Assert.Equal(page[..(16 + 48 + 32)], corrected[..(16 + 48 + 32)]); // up to leaf 1's ECX: untouched
        Assert.Equal(page[(16 + 48 + 36)..], corrected[(16 + 48 + 36)..]);

        // The RMP entry went back to shared, so the corrected page can be submitted at the same gfn.
        vm.MemoryEncryptOp(cmd);
        Assert.Equal(1, vm.Snp!.Updates);
    }

    /// <summary>
    /// kvm_gmem_populate stops at a pending signal (internally EINTR); with no page done snp_launch_update turns any
    /// populate failure into EIO (kvm-memory-model.md §10), the struct unchanged and nothing measured.
    /// </summary>
    [Fact]
    public void SnpLaunchUpdate_PendingSignalBeforeAnyPage_EioNothingMeasured()
    {
        var (vm, source) = Started();
        var cmd = Update(G, 2 * K4, SnpPageType.Normal, source.Value);
        Assert.Equal(Errno.EIO, ErrnoOf(() => vm.MemoryEncryptOp(cmd, new CancellationToken(canceled: true))));
        var u = (KvmSevSnpLaunchUpdate)cmd.Data!;
        Assert.Equal((G / K4, 2 * K4, source.Value), (u.GfnStart, u.Len, u.Uaddr));
        Assert.Equal(0, vm.Snp!.Updates);
    }

    [Fact]
    public void Case140_RangePastSlotEnd_PartialProgressWrittenBack()
    {
        var (vm, source) = Started(slotBytes: 5 * K4);
        var cmd = Update(G, 8 * K4, SnpPageType.Normal, source.Value);
        vm.MemoryEncryptOp(cmd);
        var u = (KvmSevSnpLaunchUpdate)cmd.Data!;
        Assert.Equal(((G / K4) + 5, 3 * K4, source.Value + (5 * K4)), (u.GfnStart, u.Len, u.Uaddr));
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => vm.MemoryEncryptOp(cmd)));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void RangeRefusedMidway_PagesBeforeStayMeasuredAndWritten_ProgressPointsAtTheRefusedPage(bool parallelHashing)
    {
        // Pages go to the firmware model in batches; a refusal inside one must look exactly like page-by-page
        // updates: pages 0-2 measured and in guest memory, the command pointing at page 3, page 3 untouched.
        var vm = new Kvm { ParallelPageHashing = parallelHashing }.CreateVm(KvmVmType.Snp);
        vm.Slot(0, G, 8 * K4, vm.Gmem(8 * K4));
        vm.SetAttributes(G, 8 * K4, isPrivate: true);
        vm.MemoryEncryptOp(Start());
        var source = vm.Kvm.Host.Map(8 * K4);
        vm.Kvm.Host.Write(source, Enumerable.Range(0, (int)(8 * K4)).Select(i => (byte)(i / (int)K4)).ToArray());
        vm.MemoryEncryptOp(Update(G + (3 * K4), K4, SnpPageType.Normal, source.Value + (3 * K4)));

        var cmd = Update(G, 8 * K4, SnpPageType.Normal, source.Value);
        vm.MemoryEncryptOp(cmd); // some pages were done, so no error: the progress is the answer
        var u = (KvmSevSnpLaunchUpdate)cmd.Data!;
        Assert.Equal(((G / K4) + 3, 5 * K4, source.Value + (3 * K4)), (u.GfnStart, u.Len, u.Uaddr));
        Assert.Equal(4, vm.Snp!.Updates);
        Assert.Equal(["UPDATE.NORMAL 0x803000", "UPDATE.NORMAL 0x800000", "UPDATE.NORMAL 0x801000", "UPDATE.NORMAL 0x802000"],
            vm.MeasurementLog.Operations.Select(o => $"{o.Operation} {o.Gpa}"));

        var gmem = vm.Memslots.Single().GuestMemfd!;
        Assert.Equal(4, gmem.Pages.DataPageCount);
        var page = new byte[K4];
        gmem.Pages.Read(2 * K4, page);
        Assert.All(page, b => Assert.Equal(2, b));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void RangeOfManyBatches_DigestEqualsOnePageAtATime(bool parallelHashing)
    {
        // 200 pages: three full 64-page batches and a partial one, against 200 single-page commands.
        const ulong pages = 200;
        var data = new byte[pages * K4];
        new Random(7).NextBytes(data);
        byte[] Digest(bool oneAtATime)
        {
            var vm = new Kvm { ParallelPageHashing = parallelHashing }.CreateVm(KvmVmType.Snp);
            vm.Slot(0, G, pages * K4, vm.Gmem(pages * K4));
            vm.SetAttributes(G, pages * K4, isPrivate: true);
            vm.MemoryEncryptOp(Start());
            var source = vm.Kvm.Host.Map(pages * K4);
            vm.Kvm.Host.Write(source, data);
            for (ulong p = 0; p < (oneAtATime ? pages : 1); p++)
            {
                ulong len = oneAtATime ? K4 : pages * K4;
                vm.MemoryEncryptOp(Update(G + (p * K4), len, SnpPageType.Normal, source.Value + (p * K4)));
            }

            return vm.Snp!.LaunchDigest;
        }

        Assert.Equal(Convert.ToHexStringLower(Digest(oneAtATime: true)), Convert.ToHexStringLower(Digest(oneAtATime: false)));
    }

    [Fact]
    public void Case141_Zero_UaddrUnchangedAndPageZero()
    {
        var (vm, _) = Started();
        var cmd = Update(G, 2 * K4, SnpPageType.Zero, uaddr: 0x1234_5000);
        vm.MemoryEncryptOp(cmd);
        Assert.Equal(0x1234_5000UL, ((KvmSevSnpLaunchUpdate)cmd.Data!).Uaddr);
        var page = new byte[K4];
        vm.Memslots[0].GuestMemfd!.Pages.Read(0, page);
        Assert.All(page, b => Assert.Equal(0, b));
    }

    [Fact]
    public void Case142_FinishFlagsEinval_ValidFinishAllowsPrefault()
    {
        var (vm, _) = Started();
        var vcpu = vm.CreateVcpu(0);
        vcpu.SevEsSaveArea = Vmsa.Build(Vmsa.BspResetEip, VmsaProfile.Qemu, 0x800F12, 1);
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => vm.MemoryEncryptOp(new KvmSevCmd { Id = KvmSevCmdId.SnpLaunchFinish, Data = new KvmSevSnpLaunchFinish { Flags = 2 } })));
        var args = Range(G, K4);
        Assert.Equal(Errno.EOPNOTSUPP, ErrnoOf(() => vcpu.PreFaultMemory(ref args)));
        vm.MemoryEncryptOp(new KvmSevCmd { Id = KvmSevCmdId.SnpLaunchFinish, Data = new KvmSevSnpLaunchFinish() });
        Assert.Equal(0, vcpu.PreFaultMemory(ref args));
    }

    /// <summary>A started SNP VM with one vCPU whose VMSA is set: FINISH is the only step left.</summary>
    private static VmFd ReadyToFinish()
    {
        var (vm, _) = Started();
        vm.CreateVcpu(0).SevEsSaveArea = Vmsa.Build(Vmsa.BspResetEip, VmsaProfile.Qemu, 0x800F12, 1);
        return vm;
    }

    private static KvmSevCmd FinishWithIdBlock(VmFd vm, byte[] block, byte[] auth, byte authKeyEn = 0)
    {
        var blockAt = vm.Kvm.Host.Map(K4);
        var authAt = vm.Kvm.Host.Map(K4);
        vm.Kvm.Host.Write(blockAt, block);
        vm.Kvm.Host.Write(authAt, auth);
        return new KvmSevCmd { Id = KvmSevCmdId.SnpLaunchFinish, Data = new KvmSevSnpLaunchFinish { IdBlockEn = 1, AuthKeyEn = authKeyEn, IdBlockUaddr = blockAt.Value, IdAuthUaddr = authAt.Value } };
    }

    [Fact]
    public void Finish_WithAnIdBlock_VerifiedByTheFirmware()
    {
        var reference = ReadyToFinish();
        reference.MemoryEncryptOp(new KvmSevCmd { Id = KvmSevCmdId.SnpLaunchFinish, Data = new KvmSevSnpLaunchFinish() });
        byte[] digest = reference.Snp!.LaunchDigest;

        using var idKey = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP384);
        using var authorKey = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP384);
        byte[] good = new IdBlock(digest, new byte[16], new byte[16], 0, 0x30000).ToBytes();
        var vm = ReadyToFinish();
        vm.MemoryEncryptOp(FinishWithIdBlock(vm, good, IdAuth.Build(good, idKey, authorKey), authKeyEn: 1));
        Assert.True(vm.Snp!.IsFinished);
        Assert.NotEqual(new byte[48], vm.Snp.AuthorKeyDigest);

        byte[] wrong = new IdBlock(new byte[48], new byte[16], new byte[16], 0, 0x30000).ToBytes();
        var refused = ReadyToFinish();
        var cmd = FinishWithIdBlock(refused, wrong, IdAuth.Build(wrong, idKey));
        Assert.Equal(Errno.EIO, ErrnoOf(() => refused.MemoryEncryptOp(cmd)));
        Assert.Equal((uint)SnpStatus.BadMeasurement, cmd.Error);
        Assert.False(refused.Snp!.IsFinished);
    }

    [Fact]
    public void AfterFinish_APrivateFaultAssignsTheRmpEntryUnvalidated_LaunchPagesKeepTheirs()
    {
        var vm = ReadyToFinish();
        vm.MemoryEncryptOp(Update(G, K4, SnpPageType.Zero));
        vm.MemoryEncryptOp(new KvmSevCmd { Id = KvmSevCmdId.SnpLaunchFinish, Data = new KvmSevSnpLaunchFinish() });
        var args = Range(G, 4 * K4);
        Assert.Equal(0, vm.CreateVcpu(1).PreFaultMemory(ref args));
        var rmp = vm.Snp!.Rmp;
        Assert.Equal(new RmpEntry(true, true, true, 1, new Gpa(G)), rmp[new Gpa(G)]);
        Assert.All(Enumerable.Range(1, 3), i => Assert.Equal(new RmpEntry(true, false, false, 1, new Gpa(G + ((ulong)i * K4))), rmp[new Gpa(G + ((ulong)i * K4))]));
        Assert.Equal(4, rmp.AssignedPages);
    }

    [Fact]
    public void Finish_IdBlockAtAnUnmappedAddress_Efault()
    {
        var vm = ReadyToFinish();
        var cmd = new KvmSevCmd { Id = KvmSevCmdId.SnpLaunchFinish, Data = new KvmSevSnpLaunchFinish { IdBlockEn = 1, IdBlockUaddr = 0x1000, IdAuthUaddr = 0x2000 } };
        Assert.Equal(Errno.EFAULT, ErrnoOf(() => vm.MemoryEncryptOp(cmd)));
    }

    [Fact]
    public void Vmsa_BspCsSegmentAndFieldsAsInTheSpec()
    {
        byte[] v = Vmsa.Build(Vmsa.BspResetEip, VmsaProfile.Qemu, 0x800F12, 1);
        Assert.Equal(Convert.FromHexString("00f09b00ffff00000000ffff00000000"), v[0x10..0x20]); // snp-launch-digest.md §5.2 example
        Assert.Equal(0xFFF0UL, BitConverter.ToUInt64(v, 0x178));
        Assert.Equal(0x800F12UL, BitConverter.ToUInt64(v, 0x310));
        Assert.Equal(0x1F80u, BitConverter.ToUInt32(v, 0x408));
        Assert.Equal((ushort)0x037F, BitConverter.ToUInt16(v, 0x410));
        Assert.Equal(1UL, BitConverter.ToUInt64(v, 0x3B0));
    }

    [Theory]
    [InlineData(VmsaProfile.Ec2, 0x9A, 0x92, 0x83, 0x600UL, 0x0007040600070406UL)]
    [InlineData(VmsaProfile.Gce, 0x9B, 0x93, 0x8B, 0x600UL, 0x00070106UL)]
    public void Vmsa_CloudProfiles(VmsaProfile profile, int cs, int ss, int tr, ulong rdx, ulong gpat)
    {
        byte[] bsp = Vmsa.Build(Vmsa.BspResetEip, profile, 0xA00F11, 1);
        Assert.Equal((cs, ss, tr), (BitConverter.ToUInt16(bsp, 0x12), BitConverter.ToUInt16(bsp, 0x22), BitConverter.ToUInt16(bsp, 0x92)));
        Assert.Equal((rdx, gpat, 0u), (BitConverter.ToUInt64(bsp, 0x310), BitConverter.ToUInt64(bsp, 0x268), BitConverter.ToUInt32(bsp, 0x408)));
        byte[] ap = Vmsa.Build(0x80B004, profile, 0xA00F11, 1);
        Assert.Equal(0x9B, BitConverter.ToUInt16(ap, 0x12)); // APs keep 0x9B even on ec2
        Assert.Equal((0x800000UL, 0xB004UL), (BitConverter.ToUInt64(ap, 0x18), BitConverter.ToUInt64(ap, 0x178)));
    }

    [Fact]
    public void PageInfo_FirstPageOfOvmfCode_AsInTheSpec()
    {
        // snp-launch-digest.md §2 worked layout: LD zero, CONTENTS = SHA-384 of file[0..0x1000], NORMAL at 0xFFE20000.
        byte[] page = File.ReadAllBytes(CocoLaunch.Tests.Shared.RepoPaths.OvmfCodeFd)[..4096];
        var info = new byte[PageInfo.Size];
        PageInfo.Build(new byte[48], SnpPageType.Normal, 0xFFE2_0000, page, info);
        Assert.Equal(Convert.FromHexString("b66a1b1c72781ff3e4649a97d8de084955b3a665b358421b01b0b4ebc7e4f30068d93377dbd9d8fe15562415086cae6f"), info[0x30..0x60]);
        Assert.Equal(Convert.FromHexString("70000100000000000000e2ff00000000"), info[0x60..0x70]);
        PageInfo.Build(new byte[48], SnpPageType.Vmsa, 0xFFFF_FFFF_F000, new byte[4096], info);
        Assert.Equal(Convert.FromHexString("700002000000000000f0ffffffff0000"), info[0x60..0x70]);
    }
}
