using System.Buffers.Binary;
using CocoLaunch.Cpu;
using F = CocoLaunch.Firmware.Snp.Vmsa.Field;

namespace CocoLaunch.Kvm;

/// <summary>
/// What VMRUN loads from an SEV-ES/SNP save area: an SNP vCPU's registers come from its VMSA page, the launch one
/// for the BSP and the guest's own for an AP it created. The segment attribute packing is the same as the CPU's.
/// </summary>
internal static class SnpVmsaState
{
    public static CpuState Read(ReadOnlySpan<byte> vmsa)
    {
        var s = new CpuState
        {
            Efer = U64(vmsa, F.Efer),
            Cr0 = U64(vmsa, F.Cr0),
            Cr2 = U64(vmsa, F.Cr2),
            Cr3 = U64(vmsa, F.Cr3),
            Cr4 = U64(vmsa, F.Cr4),
            Rflags = U64(vmsa, F.Rflags),
            Rip = U64(vmsa, F.Rip),
            Star = U64(vmsa, F.Star),
            Lstar = U64(vmsa, F.Lstar),
            Cstar = U64(vmsa, F.Cstar),
            Sfmask = U64(vmsa, F.Sfmask),
            KernelGsBase = U64(vmsa, F.KernelGsBase),
            SysenterCs = U64(vmsa, F.SysenterCs),
            SysenterEsp = U64(vmsa, F.SysenterEsp),
            SysenterEip = U64(vmsa, F.SysenterEip),
            Pat = U64(vmsa, F.GPat),
            TscAux = BinaryPrimitives.ReadUInt32LittleEndian(vmsa[F.TscAux..]),
            Xcr0 = U64(vmsa, F.Xcr0),
            Mxcsr = BinaryPrimitives.ReadUInt32LittleEndian(vmsa[F.Mxcsr..]),
            FpuControl = BinaryPrimitives.ReadUInt16LittleEndian(vmsa[F.X87Fcw..]),
        };

        // ES, CS, SS, DS, FS, GS: the save area keeps them in the CPU's encoding order.
        for (int i = 0; i < 6; i++)
        {
            s.Segments[i] = Segment(vmsa, F.Es + (16 * i));
        }

        s.Ldtr = Segment(vmsa, F.Ldtr);
        s.Tr = Segment(vmsa, F.Tr);
        s.Gdtr = Table(vmsa, F.Gdtr);
        s.Idtr = Table(vmsa, F.Idtr);
        s.Dr[6] = U64(vmsa, F.Dr6);
        s.Dr[7] = U64(vmsa, F.Dr7);

        s.Gpr[0] = U64(vmsa, F.Rax);
        s.Gpr[1] = U64(vmsa, F.Rcx);
        s.Gpr[2] = U64(vmsa, F.Rdx);
        s.Gpr[3] = U64(vmsa, F.Rbx);
        s.Gpr[4] = U64(vmsa, F.Rsp);
        for (int i = 5; i < 16; i++)
        {
            s.Gpr[i] = U64(vmsa, F.Rbp + (8 * (i - 5)));
        }

        return s;
    }

    private static Segment Segment(ReadOnlySpan<byte> v, int at) => new(
        BinaryPrimitives.ReadUInt16LittleEndian(v[at..]),
        U64(v, at + 8),
        BinaryPrimitives.ReadUInt32LittleEndian(v[(at + 4)..]),
        BinaryPrimitives.ReadUInt16LittleEndian(v[(at + 2)..]));

    private static DescriptorTable Table(ReadOnlySpan<byte> v, int at) =>
        new() { Base = U64(v, at + 8), Limit = (ushort)BinaryPrimitives.ReadUInt32LittleEndian(v[(at + 4)..]) };

    private static ulong U64(ReadOnlySpan<byte> v, int at) => BinaryPrimitives.ReadUInt64LittleEndian(v[at..]);
}
