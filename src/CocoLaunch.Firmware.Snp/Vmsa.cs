using System.Buffers.Binary;

namespace CocoLaunch.Firmware.Snp;

/// <summary>The VMM whose reset-state conventions the VMSA follows (snp-launch-digest.md §5.2).</summary>
public enum VmsaProfile
{
    Qemu,
    Ec2,
    Gce,

    /// <summary>EC2's conventions with RDX 0, as tools before the 0x600 correction computed them.</summary>
    Ec2Rdx0,
}

/// <summary>
/// The initial VMSA page (Linux <c>struct sev_es_save_area</c>) for a vCPU at reset: the page SNP measures as
/// type VMSA and SEV-ES appends to its digest. Every byte not set here is zero.
/// </summary>
public static class Vmsa
{
    public const int Size = 4096;

    /// <summary>The reset vector: vCPU 0 starts here; the others at the SEV-ES reset block's address.</summary>
    public const uint BspResetEip = 0xFFFF_FFF0;

    /// <summary>Offsets in the save area (Linux <c>struct sev_es_save_area</c>); segments are 16 bytes: selector u16, attrib u16, limit u32, base u64.</summary>
    public static class Field
    {
        public const int Es = 0x000;
        public const int Cs = 0x010;
        public const int Ss = 0x020;
        public const int Ds = 0x030;
        public const int Fs = 0x040;
        public const int Gs = 0x050;
        public const int Gdtr = 0x060;
        public const int Ldtr = 0x070;
        public const int Idtr = 0x080;
        public const int Tr = 0x090;
        public const int Vmpl = 0x0CA;
        public const int Cpl = 0x0CB;
        public const int Efer = 0x0D0;
        public const int Cr4 = 0x148;
        public const int Cr3 = 0x150;
        public const int Cr0 = 0x158;
        public const int Dr7 = 0x160;
        public const int Dr6 = 0x168;
        public const int Rflags = 0x170;
        public const int Rip = 0x178;
        public const int Rsp = 0x1D8;
        public const int Rax = 0x1F8;
        public const int Star = 0x200;
        public const int Lstar = 0x208;
        public const int Cstar = 0x210;
        public const int Sfmask = 0x218;
        public const int KernelGsBase = 0x220;
        public const int SysenterCs = 0x228;
        public const int SysenterEsp = 0x230;
        public const int SysenterEip = 0x238;
        public const int Cr2 = 0x240;
        public const int GPat = 0x268;
        public const int TscAux = 0x2EC;
        public const int Rcx = 0x308;
        public const int Rdx = 0x310;
        public const int Rbx = 0x318;

        /// <summary>RBP, RSI, RDI, R8–R15 follow at 8-byte steps (RSP has its own field above).</summary>
        public const int Rbp = 0x328;
        public const int SevFeatures = 0x3B0;
        public const int Xcr0 = 0x3E8;
        public const int Mxcsr = 0x408;
        public const int X87Fcw = 0x410;
    }

    /// <param name="eip">Where the vCPU starts: <see cref="BspResetEip"/> or the AP reset EIP.</param>
    /// <param name="vcpuSignature">CPUID 1 EAX, which QEMU's reset state leaves in RDX.</param>
    /// <param name="sevFeatures">SEV_FEATURES: the guest features for SNP, 0 for SEV-ES.</param>
    /// <param name="legacyInit">QEMU before KVM_SEV_INIT2 (qemu-legacy-init): MXCSR and x87 FCW stay 0.</param>
    public static byte[] Build(uint eip, VmsaProfile profile, uint vcpuSignature, ulong sevFeatures, bool legacyInit = false)
    {
        var v = new byte[Size];
        bool bsp = eip == BspResetEip;
        bool ec2 = profile is VmsaProfile.Ec2 or VmsaProfile.Ec2Rdx0;
        ushort csAttrib = ec2 && bsp ? (ushort)0x9A : (ushort)0x9B;
        Segment(v, Field.Es, 0, 0x93, 0xFFFF, 0);
        Segment(v, Field.Cs, 0xF000, csAttrib, 0xFFFF, eip & 0xFFFF_0000);
        Segment(v, Field.Ss, 0, ec2 ? (ushort)0x92 : (ushort)0x93, 0xFFFF, 0);
        Segment(v, Field.Ds, 0, 0x93, 0xFFFF, 0);
        Segment(v, Field.Fs, 0, 0x93, 0xFFFF, 0);
        Segment(v, Field.Gs, 0, 0x93, 0xFFFF, 0);
        Segment(v, Field.Gdtr, 0, 0, 0xFFFF, 0);
        Segment(v, Field.Ldtr, 0, 0x82, 0xFFFF, 0);
        Segment(v, Field.Idtr, 0, 0, 0xFFFF, 0);
        Segment(v, Field.Tr, 0, ec2 ? (ushort)0x83 : (ushort)0x8B, 0xFFFF, 0);

        U64(v, Field.Efer, 0x1000);
        U64(v, Field.Cr4, 0x40);
        U64(v, Field.Cr0, 0x10);
        U64(v, Field.Dr7, 0x400);
        U64(v, Field.Dr6, 0xFFFF_0FF0);
        U64(v, Field.Rflags, 0x2);
        U64(v, Field.Rip, eip & 0xFFFF);
        U64(v, Field.GPat, profile == VmsaProfile.Gce ? 0x0007_0106UL : 0x0007_0406_0007_0406UL);
        U64(v, Field.Rdx, profile switch { VmsaProfile.Qemu => vcpuSignature, VmsaProfile.Ec2Rdx0 => 0, _ => 0x600 });
        U64(v, Field.SevFeatures, sevFeatures);
        U64(v, Field.Xcr0, 0x1);
        if (profile == VmsaProfile.Qemu && !legacyInit)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(v.AsSpan(Field.Mxcsr), 0x1F80);
            BinaryPrimitives.WriteUInt16LittleEndian(v.AsSpan(Field.X87Fcw), 0x037F);
        }

        return v;
    }

    /// <summary>
    /// The VMSA an SVSM starts from, every vCPU alike: 32-bit flat protected mode at the SVSM's entry, as COCONUT's
    /// QEMU builds it for the SVSM at VMPL0 (sev-snp-measure's snp:svsm mode, whose digests come from real launches).
    /// SEV_FEATURES is SNPActive alone; the vCPU signature is in RDX as at any QEMU reset. MXCSR has its reset value
    /// but the x87 FCW stays 0: so the VMSAs of the real launches behind sev-snp-measure's SVSM test digests have it.
    /// </summary>
    public static byte[] BuildSvsm(uint entry, uint vcpuSignature)
    {
        const ushort Code32 = 0xC9B, Data32 = 0xC93;
        var v = new byte[Size];
        Segment(v, Field.Es, 0x10, Data32, 0xFFFF_FFFF, 0);
        Segment(v, Field.Cs, 0x08, Code32, 0xFFFF_FFFF, 0);
        Segment(v, Field.Ss, 0x10, Data32, 0xFFFF_FFFF, 0);
        Segment(v, Field.Ds, 0x10, Data32, 0xFFFF_FFFF, 0);
        Segment(v, Field.Fs, 0x10, Data32, 0xFFFF_FFFF, 0);
        Segment(v, Field.Gs, 0, 0x93, 0xFFFF, 0);
        Segment(v, Field.Gdtr, 0, 0, 0xFFFF, 0);
        Segment(v, Field.Ldtr, 0, 0x82, 0xFFFF, 0);
        Segment(v, Field.Idtr, 0, 0, 0xFFFF, 0);
        Segment(v, Field.Tr, 0, 0x8B, 0xFFFF, 0);
        U64(v, Field.Efer, 0x1000);
        U64(v, Field.Cr4, 0x40);
        U64(v, Field.Cr0, 0x11); // PE: the SVSM starts in protected mode
        U64(v, Field.Dr7, 0x400);
        U64(v, Field.Dr6, 0xFFFF_0FF0);
        U64(v, Field.Rflags, 0x2);
        U64(v, Field.Rip, entry);
        U64(v, Field.GPat, 0x0007_0406_0007_0406UL);
        U64(v, Field.Rdx, vcpuSignature);
        U64(v, Field.SevFeatures, 0x1);
        U64(v, Field.Xcr0, 0x1);
        BinaryPrimitives.WriteUInt32LittleEndian(v.AsSpan(Field.Mxcsr), 0x1F80);
        return v;
    }

    private static void Segment(byte[] v, int at, ushort selector, ushort attrib, uint limit, ulong baseAddress)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(v.AsSpan(at), selector);
        BinaryPrimitives.WriteUInt16LittleEndian(v.AsSpan(at + 2), attrib);
        BinaryPrimitives.WriteUInt32LittleEndian(v.AsSpan(at + 4), limit);
        BinaryPrimitives.WriteUInt64LittleEndian(v.AsSpan(at + 8), baseAddress);
    }

    private static void U64(byte[] v, int at, ulong value) => BinaryPrimitives.WriteUInt64LittleEndian(v.AsSpan(at), value);
}
