namespace CocoLaunch.Cpu;

/// <summary>
/// What the CPU needs of the machine around it, and nothing more: RAM pages by guest-physical frame, and which
/// MSRs the platform wants to see. Everything else (ports, MMIO, CPUID, hypercalls) leaves as a <see cref="CpuExit"/>.
/// </summary>
public unsafe interface IPlatform
{
    /// <summary>
    /// The host address of the 4 KiB RAM page at guest frame <paramref name="gfn"/> as a private or shared
    /// access sees it, or null when it is not RAM (the access becomes an MMIO exit). The pointer must stay valid
    /// until the platform calls <see cref="X86Cpu.FlushTlb"/>: the CPU caches it, as hardware caches translations.
    /// </summary>
    byte* RamPage(ulong gfn, bool isPrivate, bool write);

    /// <summary>
    /// Whether RDMSR (<paramref name="write"/> false) or WRMSR of <paramref name="index"/> leaves the CPU even when the
    /// CPU models that MSR; by direction, as a TD's module intercepts some MSRs on write only.
    /// </summary>
    bool InterceptsMsr(uint index, bool write) => false;

    /// <summary>
    /// The GPA bit that marks an access's private/shared view: TDX's shared bit (47 or 51; set means shared) or
    /// SNP's C-bit (usually 51; set means private). 0 for a plain VM, where every access is shared.
    /// </summary>
    ulong ConfidentialGpaBit => 0;

    /// <summary>True for SNP's C-bit (set = private), false for TDX's shared bit (set = shared).</summary>
    bool ConfidentialBitMeansPrivate => false;

    /// <summary>
    /// The frame and the private/shared view of a guest-physical address as an access carries it: the confidential
    /// bit stripped and read as this platform defines it. Every access is shared on a platform without one.
    /// </summary>
    (ulong Frame, bool IsPrivate) DecodeGpa(ulong gpa)
    {
        ulong bit = ConfidentialGpaBit;
        if (bit == 0)
        {
            return (gpa & ~0xFFFUL, false);
        }

        bool set = (gpa & bit) != 0;
        return (gpa & ~bit & ~0xFFFUL, ConfidentialBitMeansPrivate ? set : !set);
    }
}
