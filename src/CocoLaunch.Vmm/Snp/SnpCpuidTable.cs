using System.Buffers.Binary;
using CocoLaunch.Firmware.Snp;
using CocoLaunch.Vmm.Boot;

namespace CocoLaunch.Vmm.Snp;

/// <summary>
/// The CPUID page the VMM hands the SNP firmware at launch, as QEMU fills it from the vCPU's CPUID table: one entry
/// per leaf of <see cref="VcpuType.EpycSnp"/>, the table the hypervisor answers from too. Leaves 0xD.0 and 0xD.1, if
/// any, say they hold for XCR0 = x87|SSE (xcr0_in 1), as Linux's lookup (snp_cpuid) requires of them. The page's contents are
/// not part of the launch digest: the PSP checks them against the platform instead.
/// </summary>
public static class SnpCpuidTable
{
    private const int Xcr0InOffset = 8;

    public static byte[] Page()
    {
        var page = new byte[Abi.PageSize.Size4K];
        var entries = CpuidModel.Entries(VcpuType.EpycSnp);
        BinaryPrimitives.WriteUInt32LittleEndian(page, (uint)entries.Count);
        for (int i = 0; i < entries.Count; i++)
        {
            var e = entries[i];
            CpuidPage.SetEntry(page, i, new CpuidFunction(e.Function, e.Index, e.Eax, e.Ebx, e.Ecx, e.Edx));
            if (e.Function == 0xD && e.Index <= 1)
            {
                BinaryPrimitives.WriteUInt64LittleEndian(page.AsSpan(CpuidPage.EntriesOffset + (i * CpuidPage.EntrySize) + Xcr0InOffset), 1);
            }
        }

        return page;
    }
}
