using System.Buffers.Binary;
using CocoLaunch.Abi;
using CocoLaunch.Kvm;
using F = CocoLaunch.Firmware.Snp.Vmsa.Field;
using static CocoLaunch.Vmm.Tests.SnpHarness;

namespace CocoLaunch.Vmm.Tests;

/// <summary>
/// SNP AP creation (NAE 0x80000013, guest-abi.md §5.3) on the KVM model: the checks of <c>sev_snp_ap_creation</c>
/// with their GHCB answers, the target vCPU held until it is created, VMRUN's check of the VMSA page in the RMP,
/// and the AP running from the registers the guest wrote into its VMSA.
/// </summary>
public sealed class SnpApCreationTests
{
    private const ulong VmsaGpa = 0x20_3000, Features = 0x1; // SNP active: the launch VMSAs' SEV_FEATURES

    private static ulong CreateFor(uint apicId) => ((ulong)apicId << 32) | SevVcpuBackend.ApCreate;

    /// <summary>A 64-bit VMSA at <see cref="VmsaGpa"/> starting the AP at <see cref="ApCode"/> with RDI = 0x5EED, validated and (optionally) RMPADJUSTed.</summary>
    private static void WriteApVmsa(SnpHarness h, bool vmsaBit = true)
    {
        var v = new byte[PageSize.Size4K];
        var s = LongMode(ApCode);
        for (int i = 0; i < 6; i++)
        {
            var seg = s.Segments[i];
            BinaryPrimitives.WriteUInt16LittleEndian(v.AsSpan(F.Es + (16 * i)), seg.Selector);
            BinaryPrimitives.WriteUInt16LittleEndian(v.AsSpan(F.Es + (16 * i) + 2), seg.Attributes);
            BinaryPrimitives.WriteUInt32LittleEndian(v.AsSpan(F.Es + (16 * i) + 4), seg.Limit);
        }

        foreach (var (at, value) in new[] { (F.Efer, s.Efer), (F.Cr0, s.Cr0), (F.Cr3, s.Cr3), (F.Cr4, s.Cr4), (F.Rflags, 2UL), (F.Rip, ApCode), (F.Rbp + 16, 0x5EEDUL), (F.Rsp, 0x20_5000UL), (F.SevFeatures, Features), (F.Xcr0, 1UL) })
        {
            BinaryPrimitives.WriteUInt64LittleEndian(v.AsSpan(at), value);
        }

        h.WritePrivate(VmsaGpa, v);
        var rmp = h.Vm.Snp!.Rmp;
        Assert.Equal((0u, false), rmp.Pvalidate(new Gpa(VmsaGpa), size2M: false, validate: true));
        if (vmsaBit)
        {
            Assert.True(rmp.SetVmsa(new Gpa(VmsaGpa), true));
        }
    }

    private static (ulong, ulong) Event(SnpHarness h, ulong info1, ulong info2, ulong? rax)
    {
        h.WriteGhcb(SevVcpuBackend.NaeApCreation, info1, info2, rax);
        Assert.IsType<KvmExit.Hlt>(h.Bsp.Run());
        return h.GhcbResult();
    }

    /// <summary>KVM_RUN on its own thread: it must still be blocked after a while, and return once kicked.</summary>
    private static KvmExit RunUntilKicked(VcpuFd vcpu)
    {
        KvmExit? exit = null;
        var thread = new Thread(() => exit = vcpu.Run()) { IsBackground = true };
        thread.Start();
        Assert.False(thread.Join(200));
        vcpu.Kick();
        Assert.True(thread.Join(10_000));
        return exit!;
    }

    [Theory]
    [InlineData(5u, VmsaGpa, Features, "no vCPU has APIC ID 5")]
    [InlineData(1u, VmsaGpa, 0UL, "SEV features differ from the VM's")]
    [InlineData(1u, 0x20_0000UL, Features, "2M-aligned VMSA (the SNP erratum)")]
    [InlineData(1u, VmsaGpa + 8, Features, "VMSA not page-aligned")]
    [InlineData(1u, VmsaGpa | (1UL << 51), Features, "VMSA address beyond the guest's physical address space")]
    public void Create_RefusedWithInvalidInput_TheApStaysHeld(uint apicId, ulong vmsa, ulong rax, string why)
    {
        var h = Create();
        Assert.True((2UL, 5UL) == Event(h, CreateFor(apicId), vmsa, rax), why);
        Assert.True(h.Ap.Sev!.AwaitsApCreation);
    }

    [Fact]
    public void Create_WithoutRax_MissingInput()
    {
        var h = Create();
        Assert.Equal((2UL, 4UL), Event(h, CreateFor(1), VmsaGpa, rax: null));
    }

    [Fact]
    public void UnknownRequest_InvalidInput()
    {
        var h = Create();
        Assert.Equal((2UL, 5UL), Event(h, (1UL << 32) | 7, VmsaGpa, Features));
    }

    [Fact]
    public void Create_TheApRunsFromTheGuestsVmsa_RegistersAsWritten_ThenDestroyHoldsItAgain()
    {
        var h = Create();
        WriteApVmsa(h);
        Assert.Equal((0UL, 0UL), Event(h, CreateFor(1), VmsaGpa, Features));

        Assert.IsType<KvmExit.Hlt>(h.Ap.Run());
        var s = h.Ap.Cpu!.State;
        Assert.Equal((ApCode + 1, 0x5EEDUL, 0x20_5000UL), (s.Rip, s.Gpr[7], s.Gpr[4]));
        Assert.False(h.Ap.Sev!.AwaitsApCreation);

        // Destroy (RAX not needed): the AP is offline again; KVM_RUN blocks until a kick returns −EINTR.
        h.Bsp.SetCpu(LongMode(Code), Cpu.CpuVendor.Amd);
        Assert.Equal((0UL, 0UL), Event(h, (1UL << 32) | SevVcpuBackend.ApDestroy, 0, rax: null));
        Assert.IsType<KvmExit.Intr>(RunUntilKicked(h.Ap));
        Assert.True(h.Ap.Sev!.AwaitsApCreation);
    }

    [Fact]
    public void Create_OfAPageWithoutTheVmsaBit_VmrunFails_FailEntry()
    {
        var h = Create();
        WriteApVmsa(h, vmsaBit: false);
        Assert.Equal((0UL, 0UL), Event(h, CreateFor(1), VmsaGpa, Features));
        var exit = Assert.IsType<KvmExit.FailEntry>(h.Ap.Run());
        Assert.Equal(KvmExit.FailEntry.SvmExitErr, exit.HardwareEntryFailureReason);
    }

    [Fact]
    public void HeldAp_BeforeAnyCreation_BlocksUntilKicked()
    {
        var h = Create();
        Assert.IsType<KvmExit.Intr>(RunUntilKicked(h.Ap));
    }

    [Fact]
    public void Bsp_StartsFromItsLaunchVmsa()
    {
        var h = Create();
        h.Bsp.Sev!.StartFromLaunchVmsa();
        var s = h.Bsp.Cpu!.State;
        var cs = s.Segments[(int)Cpu.SegmentName.Cs];
        // QEMU's reset VMSA (snp-launch-digest.md §5): CS F000 base FFFF0000, RIP FFF0, EFER.SVME, RDX = CPUID 1 EAX of EPYC-v4.
        Assert.Equal((0xF000, 0xFFFF_0000UL, (ushort)0x9B, 0xFFF0UL), (cs.Selector, cs.Base, cs.Attributes, s.Rip));
        Assert.Equal((0x1000UL, 0x10UL, 0x40UL, 0x0080_0F12UL), (s.Efer, s.Cr0, s.Cr4, s.Gpr[2]));
    }
}
