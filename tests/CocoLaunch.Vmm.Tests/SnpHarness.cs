using CocoLaunch.Abi;
using CocoLaunch.Abi.Kvm;
using CocoLaunch.Cpu;
using CocoLaunch.Formats;
using CocoLaunch.Formats.Ovmf;
using CocoLaunch.Kvm;
using CocoLaunch.Spec;
using CocoLaunch.Tests.Shared;
using CocoLaunch.Vmm.Launch;

namespace CocoLaunch.Vmm.Tests;

/// <summary>
/// A launched SNP guest (the snp sample's image, two vCPUs, up to pre-fault) whose BSP starts in 64-bit mode on a
/// few bytes of code: it registers the GHCB at <see cref="GhcbGpa"/> with the MSR protocol, makes one VMGEXIT with
/// the GHCB page the test filled in, and halts. Page tables live in SNP_SEC_MEM (validated at launch); test code
/// and tables are written behind the guest's back, which only a test may do.
/// </summary>
internal sealed class SnpHarness
{
    public const ulong Code = 0xFFFF_0000, ApCode = Code + 0x100, PageTables = 0x80_0000, GhcbGpa = 0x40_0000;
    public const ulong CBit = 1UL << 51;

    private SnpHarness(LaunchContext context) => Context = context;

    public LaunchContext Context { get; }

    public VmFd Vm => Context.RequireVm();

    public VcpuFd Bsp => Context.Vcpus[0];

    public VcpuFd Ap => Context.Vcpus[1];

    public static SnpHarness Create()
    {
        var spec = LaunchSpecParser.Parse("platform: snp\nfirmware: samples/snp/bin/snp.fd\nvcpus: 2\nmemory: 128M\nsnp: { vcpu-type: EPYC-v4, policy: 0x30000 }\n", "snp-harness.yaml", RepoPaths.Root);
        var image = FirmwareImage.Load(spec.Firmware.Path);
        var h = new SnpHarness(LaunchRecipe.Run(new LaunchContext(spec, image, OvmfFirmware.Parse(image)), "prefault"));

        // PML4[0] -> PDPT; PDPT[0..3]: 1 GiB private pages (C-bit) identity-mapping 0..4 GiB.
        var tables = new byte[0x2000];
        BitConverter.GetBytes((PageTables + 0x1000) | 3 | CBit).CopyTo(tables, 0);
        for (int g = 0; g < 4; g++)
        {
            BitConverter.GetBytes(((ulong)g << 30) | 0x83 | CBit).CopyTo(tables, 0x1000 + (8 * g));
        }

        h.WritePrivate(PageTables, tables);
        h.WritePrivate(Code,
        [
            0xB9, 0x30, 0x01, 0x01, 0xC0,                 // mov ecx, 0xC0010130 (the GHCB MSR)
            0xB8, 0x12, 0x00, 0x40, 0x00,                 // mov eax, GHCB GFN << 12 | 0x012: register the GHCB
            0x31, 0xD2,                                   // xor edx, edx
            0x0F, 0x30,                                   // wrmsr
            0xF3, 0x0F, 0x01, 0xD9,                       // vmgexit
            0xB8, 0x00, 0x00, 0x40, 0x00,                 // mov eax, GHCB GPA: the GHCB page protocol
            0x0F, 0x30,                                   // wrmsr
            0xF3, 0x0F, 0x01, 0xD9,                       // vmgexit
            0xF4,                                         // hlt
        ]);
        h.WritePrivate(ApCode, [0xF4]); // the AP: hlt

        // The GHCB page is shared; the VMM converts it as the guest's page-state change would have asked.
        h.Vm.SetMemoryAttributes(new KvmMemoryAttributesArgs { Address = GhcbGpa, Size = PageSize.Size4K, Attributes = KvmMemoryAttributes.None });
        h.Bsp.SetCpu(LongMode(Code), CpuVendor.Amd);
        foreach (var vcpu in h.Context.Vcpus)
        {
            vcpu.SetCpuid2(Boot.CpuidModel.Entries(vcpu.Id));
            vcpu.InstructionBudget = 1_000_000;
        }

        h.Ap.Sev!.HoldForApCreation();
        return h;
    }

    /// <summary>64-bit mode on the harness's page tables, as an AP's VMSA would give it.</summary>
    public static CpuState LongMode(ulong rip)
    {
        var s = new CpuState { Cr0 = 0x8001_0031, Cr3 = PageTables | CBit, Cr4 = 0x20, Efer = 0x1500, Rip = rip, Rflags = 2 };
        for (int i = 0; i < 6; i++)
        {
            s.Segments[i] = new Segment(0x10, 0, 0xFFFF_FFFF, 0xC93);
        }

        s.Segments[(int)SegmentName.Cs] = new Segment(0x18, 0, 0xFFFF_FFFF, 0xA9B);
        return s;
    }

    /// <summary>Fills the GHCB for one NAE event: exit code, EXITINFO1/2, and RAX when given; the valid bits for each.</summary>
    public void WriteGhcb(ulong exitCode, ulong info1, ulong info2, ulong? rax, params (int Offset, ulong Value)[] more)
    {
        var g = new byte[PageSize.Size4K];
        void Field(int offset, ulong value)
        {
            BitConverter.GetBytes(value).CopyTo(g, offset);
            g[0x3F0 + (offset / 64)] |= (byte)(1 << (offset / 8 % 8));
        }

        Field(0x390, exitCode);
        Field(0x398, info1);
        Field(0x3A0, info2);
        if (rax is { } value)
        {
            Field(0x1F8, value);
        }

        foreach (var (offset, extra) in more)
        {
            Field(offset, extra);
        }

        BitConverter.GetBytes((ushort)2).CopyTo(g, 0xFFA);
        Vm.BackingStoreForTests(GhcbGpa / PageSize.Size4K, isPrivate: false).Write(GhcbGpa, g);
    }

    /// <summary>A u64 of the GHCB page as KVM left it.</summary>
    public ulong GhcbField(int offset)
    {
        var g = new byte[8];
        Vm.BackingStoreForTests(GhcbGpa / PageSize.Size4K, isPrivate: false).Read(GhcbGpa + (ulong)offset, g);
        return BitConverter.ToUInt64(g);
    }

    /// <summary>SW_EXITINFO1 and SW_EXITINFO2 as KVM left them in the GHCB.</summary>
    public (ulong Info1, ulong Info2) GhcbResult()
    {
        var g = new byte[PageSize.Size4K];
        Vm.BackingStoreForTests(GhcbGpa / PageSize.Size4K, isPrivate: false).Read(GhcbGpa, g);
        return (BitConverter.ToUInt64(g, 0x398), BitConverter.ToUInt64(g, 0x3A0));
    }

    public void WritePrivate(ulong gpa, byte[] bytes) => Vm.BackingStoreForTests(gpa / PageSize.Size4K, isPrivate: true).Write(gpa, bytes);

    /// <summary>Converts [gpa, gpa + size) to shared, as a page-state change would have, and fills it with <paramref name="fill"/>.</summary>
    public void MakeShared(ulong gpa, ulong size, byte fill = 0)
    {
        Vm.SetMemoryAttributes(new KvmMemoryAttributesArgs { Address = gpa, Size = size, Attributes = KvmMemoryAttributes.None });
        WriteShared(gpa, Enumerable.Repeat(fill, (int)size).ToArray());
    }

    public void WriteShared(ulong gpa, byte[] bytes)
    {
        for (int at = 0; at < bytes.Length; at += (int)PageSize.Size4K)
        {
            ulong page = gpa + (ulong)at;
            Vm.BackingStoreForTests(page / PageSize.Size4K, isPrivate: false).Write(page, bytes.AsSpan(at, Math.Min(bytes.Length - at, (int)PageSize.Size4K)));
        }
    }

    public byte[] ReadShared(ulong gpa, int length)
    {
        var bytes = new byte[length];
        for (int at = 0; at < length; at += (int)PageSize.Size4K)
        {
            ulong page = gpa + (ulong)at;
            Vm.BackingStoreForTests(page / PageSize.Size4K, isPrivate: false).Read(page, bytes.AsSpan(at, Math.Min(length - at, (int)PageSize.Size4K)));
        }

        return bytes;
    }
}
