using CocoLaunch.Cpu;

namespace CocoLaunch.Vmm.Boot;

/// <summary>The CPUID tables a launch can choose (a spec's <c>vcpu-type</c>).</summary>
public enum VcpuType
{
    /// <summary>QEMU's "qemu64" feature set plus NX, FXSR, SSE2 and 1 GiB pages, AMD vendor: the firmware boots' CPU.</summary>
    Qemu64,

    /// <summary>
    /// An Intel vCPU as KVM presents one to a Linux guest: the KVM signature, x2APIC, TSC-deadline timer, ARAT and a
    /// TSC frequency in leaf 0x15, so Linux needs no PIT to calibrate (linux-guest.md §3, §4).
    /// </summary>
    KvmIntel,

    /// <summary>
    /// An AMD EPYC vCPU as KVM presents one to an SEV-SNP guest (linux-guest.md §4, §6): leaf 0x8000001F with SEV,
    /// SEV-ES, SNP and the C-bit, RDRAND (which an SEV-ES/SNP Linux requires), and the KVM signature, x2APIC,
    /// TSC-deadline timer, ARAT and invariant TSC of <see cref="KvmIntel"/>. The launch also writes it into the SNP
    /// CPUID page.
    /// </summary>
    EpycSnp,
}

/// <summary>
/// CPUID as the boot harness answers it. Every table reports only what the emulated CPU implements: a feature
/// bit the CPU lacks would send a guest down a path that ends in #UD.
/// </summary>
public static class CpuidModel
{
    /// <summary>The table for KVM_SET_CPUID2 of one vCPU: its APIC ID is its index, as QEMU numbers them.</summary>
    public static IReadOnlyList<Kvm.CpuidEntry> Entries(uint vcpuIndex = 0) => Entries(VcpuType.Qemu64, vcpuIndex);

    public static IReadOnlyList<Kvm.CpuidEntry> Entries(VcpuType type, uint vcpuIndex = 0) =>
        Leaves(type).Select(l =>
        {
            var (a, b, c, d) = Query(type, l.Leaf, l.Subleaf, vcpuIndex);
            return new Kvm.CpuidEntry(l.Leaf, l.Subleaf, a, b, c, d);
        }).ToList();

    /// <summary>The vendor whose decoding and system-call rules the CPU follows for a table.</summary>
    public static CpuVendor Vendor(VcpuType type) => type == VcpuType.KvmIntel ? CpuVendor.Intel : CpuVendor.Amd;

    /// <summary>SEV, SEV-ES and SNP (EAX bits 1, 3, 4); EBX: the C-bit (51) and one bit of physical address reduction.</summary>
    public const uint SevLeafEax = 0x1A, SevLeafEbx = 51 | (1 << 6);

    public static (uint Eax, uint Ebx, uint Ecx, uint Edx) Query(uint leaf, uint subleaf, uint vcpuIndex = 0) =>
        Query(VcpuType.Qemu64, leaf, subleaf, vcpuIndex);

    public static (uint Eax, uint Ebx, uint Ecx, uint Edx) Query(VcpuType type, uint leaf, uint subleaf, uint vcpuIndex = 0) =>
        type switch
        {
            VcpuType.KvmIntel => KvmIntel(leaf, subleaf, vcpuIndex),
            VcpuType.EpycSnp => EpycSnp(leaf, subleaf, vcpuIndex),
            _ => Qemu64(leaf, subleaf, vcpuIndex),
        };

    private static IEnumerable<(uint Leaf, uint Subleaf)> Leaves(VcpuType type) => type switch
    {
        VcpuType.KvmIntel => [(0, 0), (1, 0), (6, 0), (7, 0), (0xB, 0), (0xB, 1), (0xB, 2), (0xD, 0), (0xD, 1), (0x15, 0), (0x16, 0), (0x4000_0000, 0), (0x4000_0001, 0),
            (0x8000_0000, 0), (0x8000_0001, 0), (0x8000_0007, 0), (0x8000_0008, 0)],
        VcpuType.EpycSnp => [(0, 0), (1, 0), (6, 0), (7, 0), (0x4000_0000, 0), (0x4000_0001, 0),
            (0x8000_0000, 0), (0x8000_0001, 0), (0x8000_0007, 0), (0x8000_0008, 0), (0x8000_001F, 0)],
        _ => [(0, 0), (1, 0), (0xD, 0), (0xD, 1), (0x8000_0000, 0), (0x8000_0001, 0), (0x8000_0008, 0)],
    };

    private static (uint, uint, uint, uint) Qemu64(uint leaf, uint subleaf, uint vcpuIndex) => (leaf, subleaf) switch
    {
        // Max basic leaf 0xD; vendor "AuthenticAMD".
        (0, _) => (0xD, 0x6874_7541, 0x444D_4163, 0x6974_6E65),
        // Family 0xF, model 0x6B; EDX: FPU PSE TSC MSR PAE CX8 APIC SEP MTRR PGE CMOV PAT CLFSH FXSR SSE SSE2 — qemu64's
        // set without what the CPU lacks (VME, DE, PSE-36, MMX) and without MCE/MCA, whose bank MSRs are not
        // modelled (Linux panics "MCA architectural violation" on them); ECX: CX16 POPCNT XSAVE (OSXSAVE, bit 27,
        // is CR4.OSXSAVE: KVM sets it as the guest reads the leaf).
        (1, _) => (0x0000_0F6B, (vcpuIndex << 24) | 0x0000_0800, 0x0480_2000, 0x0709_BB79),
        (0xD, _) => Xsave(subleaf),
        (0x8000_0000, _) => (0x8000_0008, 0x6874_7541, 0x444D_4163, 0x6974_6E65),
        // LAHF-LM, ABM (LZCNT); SYSCALL, NX, 1 GiB pages, RDTSCP, LM.
        (0x8000_0001, _) => (0x0000_0F6B, 0, 0x0000_0021, 0x2C10_0800),
        // 40-bit physical, 48-bit linear addresses; XSAVEERPTR (EBX bit 2): FXSAVE saves the x87 error pointers, so
        // Linux skips its AMD workaround of FILD on every FPU restore, an x87 load the CPU does not model.
        (0x8000_0008, _) => (0x0000_3028, 0x4, 0, 0),
        _ => (0, 0, 0, 0),
    };

    /// <summary>The TSC and APIC-timer crystal of <see cref="VcpuType.KvmIntel"/>: the TSC rate KVM gives the vCPU (1 GHz), which is also its APIC bus clock.</summary>
    public const uint CrystalHz = (uint)(Kvm.VcpuFd.DefaultTscKhz * 1000);

    private static (uint, uint, uint, uint) KvmIntel(uint leaf, uint subleaf, uint vcpuIndex) => (leaf, subleaf) switch
    {
        // Max basic leaf 0x16; "GenuineIntel".
        (0, _) => (0x16, 0x756E_6547, 0x6C65_746E, 0x4965_6E69),
        // Family 6 model 0x8F stepping 8 (Sapphire Rapids, a TDX-era part); CLFLUSH 64 bytes, one logical processor.
        // ECX: CX16, PCID, x2APIC, MOVBE, POPCNT, TSC-deadline, XSAVE, RDRAND, HYPERVISOR. EDX: FPU PSE TSC MSR PAE
        // CX8 APIC SEP MTRR PGE CMOV PAT CLFSH FXSR SSE SSE2 — qemu64's set without what the CPU lacks (VME, DE,
        // PSE-36, MMX) and without MCE/MCA, whose bank MSRs KVM emulates only once userspace sets them up.
        (1, _) => (0x0008_06F8, (vcpuIndex << 24) | 0x0001_0800, 0xC5E2_2000, 0x0709_BB79),
        (6, _) => (0x4, 0, 0, 0), // ARAT: the APIC timer keeps running in deep C-states
        // EBX: FSGSBASE, SMEP, INVPCID, RDSEED, SMAP; ECX: UMIP, RDPID. No BMI, AVX or SSSE3+: glibc then keeps to
        // its SSE2 string routines, which the CPU implements.
        (7, 0) => (0, 0x0014_0481, 0x0040_0004, 0),
        // x2APIC topology as QEMU builds it for -smp N (N sockets of one core, one thread; target/i386/cpu.c, leaf 0xB):
        // SMT then core level, each one processor wide, then an invalid level; EDX is the vCPU's x2APIC ID everywhere.
        // A TD's firmware asks for it by TDVMCALL to learn its own APIC ID (OVMF's AP mailbox loop, TdxDxe).
        (0xB, 0) => (0, 1, 0x100, vcpuIndex),
        (0xB, 1) => (0, 1, 0x201, vcpuIndex),
        (0xB, _) => (0, 0, subleaf & 0xFF, vcpuIndex),
        (0xD, 1) => (1, 0, 0, 0), // XSAVEOPT
        (0xD, _) => Xsave(subleaf),
        // TSC = crystal × EBX / EAX, and Linux's lapic_timer_period = crystal / HZ (tsc.c native_calibrate_tsc).
        (0x15, _) => (1u, 1u, CrystalHz, 0u),
        (0x16, _) => (CrystalHz / 1_000_000, CrystalHz / 1_000_000, CrystalHz / 1_000_000, 0u),
        // "KVMKVMKVM\0\0\0" with no paravirtual features: Linux keeps x2APIC on (x2apic_available) and uses no kvmclock.
        (0x4000_0000, _) => (0x4000_0001, 0x4B4D_564B, 0x564B_4D56, 0x0000_004D),
        (0x4000_0001, _) => (0, 0, 0, 0),
        (0x8000_0000, _) => (0x8000_0008, 0, 0, 0),
        // LAHF-LM, LZCNT; SYSCALL, NX, 1 GiB pages, RDTSCP, LM.
        (0x8000_0001, _) => (0, 0, 0x0000_0021, 0x2C10_0800),
        (0x8000_0007, _) => (0, 0, 0, 0x100), // invariant TSC
        (0x8000_0008, _) => (0x0000_3028, 0, 0, 0),
        _ => (0, 0, 0, 0),
    };

    private static (uint, uint, uint, uint) EpycSnp(uint leaf, uint subleaf, uint vcpuIndex) => (leaf, subleaf) switch
    {
        // Max basic leaf 7: an SNP Linux reads 0xD.1 whenever leaf 0xD exists, and its CPUID-table check then
        // requires XSAVEC or XSAVES (snp_cpuid_postprocess), which the CPU lacks; so no XSAVE, and FXSAVE it is.
        (0, _) => (0x7, 0x6874_7541, 0x444D_4163, 0x6974_6E65),
        // Family 0x17 model 1 stepping 2 (EPYC-v4's signature); ECX: CX16, x2APIC, POPCNT, TSC-deadline, RDRAND,
        // HYPERVISOR; EDX as qemu64's.
        (1, _) => (0x0080_0F12, (vcpuIndex << 24) | 0x0001_0800, 0xC1A0_2000, 0x0709_BB79),
        (6, _) => (0x4, 0, 0, 0),
        // KvmIntel's leaf 7 without FSGSBASE: with it, the paranoid entry an SNP guest's every #VC takes reads the
        // CPU number with LSL (GET_PERCPU_BASE), which the CPU does not implement.
        (7, 0) => (0, 0x0014_0480, 0x0040_0004, 0),
        (0x4000_0000, _) => (0x4000_0001, 0x4B4D_564B, 0x564B_4D56, 0x0000_004D),
        (0x4000_0001, _) => (0, 0, 0, 0),
        (0x8000_0000, _) => (0x8000_001F, 0x6874_7541, 0x444D_4163, 0x6974_6E65),
        (0x8000_0001, _) => (0x0080_0F12, 0, 0x0000_0021, 0x2C10_0800),
        (0x8000_0007, _) => (0, 0, 0, 0x100),
        // 48-bit physical addresses, as EPYC reports them; XSAVEERPTR as qemu64's.
        (0x8000_0008, _) => (0x0000_3030, 0x4, 0, 0),
        (0x8000_001F, _) => (SevLeafEax, SevLeafEbx, 0, 0),
        _ => (0, 0, 0, 0),
    };

    // XSAVE: x87 and SSE, both inside the 512-byte legacy region, so the area is 576 bytes; no XSAVEOPT/C/S.
    private static (uint, uint, uint, uint) Xsave(uint subleaf) => subleaf == 0 ? ((uint)X86Cpu.SupportedXcr0, 576u, 576u, 0u) : (0u, 0u, 0u, 0u);
}
