namespace CocoLaunch.Vmm.Boot;

/// <summary>
/// CPUID as the boot harness answers it: a baseline x86-64 processor (the QEMU "qemu64" feature set plus NX,
/// FXSR, SSE2 and 1 GiB pages), so guests see what the emulated CPU implements and no more.
/// </summary>
public static class CpuidModel
{
    /// <summary>The table for KVM_SET_CPUID2 of one vCPU: its APIC ID is its index, as QEMU numbers them.</summary>
    public static IReadOnlyList<Kvm.CpuidEntry> Entries(uint vcpuIndex = 0) =>
        new (uint Leaf, uint Subleaf)[] { (0, 0), (1, 0), (0xD, 0), (0xD, 1), (0x8000_0000, 0), (0x8000_0001, 0), (0x8000_0008, 0) }.Select(l =>
        {
            var (a, b, c, d) = Query(l.Leaf, l.Subleaf, vcpuIndex);
            return new Kvm.CpuidEntry(l.Leaf, l.Subleaf, a, b, c, d);
        }).ToList();

    public static (uint Eax, uint Ebx, uint Ecx, uint Edx) Query(uint leaf, uint subleaf, uint vcpuIndex = 0)
    {
        return (leaf, subleaf) switch
        {
            // Max basic leaf 0xD; vendor "AuthenticAMD".
            (0, _) => (0xD, 0x6874_7541, 0x444D_4163, 0x6974_6E65),
            // Family 0xF, model 0x6B; FPU TSC MSR PAE CX8 APIC PGE CMOV PAT PSE36 CLFSH MMX FXSR SSE SSE2; ECX: CX16 POPCNT
            // XSAVE (OSXSAVE, bit 27, is CR4.OSXSAVE: KVM sets it as the guest reads the leaf).
            (1, _) => (0x0000_0F6B, (vcpuIndex << 24) | 0x0000_0800, 0x0480_2000, 0x078B_FBFF),
            // XSAVE: x87 and SSE, both inside the 512-byte legacy region, so the area is 576 bytes; no XSAVEOPT/C/S.
            (0xD, 0) => ((uint)Cpu.X86Cpu.SupportedXcr0, 576, 576, 0),
            (0xD, _) => (0, 0, 0, 0),
            (0x8000_0000, _) => (0x8000_0008, 0x6874_7541, 0x444D_4163, 0x6974_6E65),
            // LAHF-LM, ABM (LZCNT); SYSCALL, NX, 1 GiB pages, RDTSCP, LM.
            (0x8000_0001, _) => (0x0000_0F6B, 0, 0x0000_0021, 0x2C10_0800),
            (0x8000_0008, _) => (0x0000_3028, 0, 0, 0), // 40-bit physical, 48-bit linear addresses
            _ => (0, 0, 0, 0),
        };
    }
}
