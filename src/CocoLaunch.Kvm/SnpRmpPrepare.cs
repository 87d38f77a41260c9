using CocoLaunch.Abi;
using CocoLaunch.Firmware.Snp;
using CocoLaunch.Kvm.Mmu;

namespace CocoLaunch.Kvm;

/// <summary>
/// SNP's guest_memfd prepare hook: before a private page is mapped after launch, RMPUPDATE makes it guest-owned
/// (not validated: the guest does that with PVALIDATE). Pages the launch already assigned keep their entries.
/// With a 2M folio whose whole region is private and holds no assigned page, one 2M entry covers it, as
/// <c>sev_gmem_prepare</c> does when <c>is_large_rmp_possible</c>; the RMP entry's size then caps the leaf.
/// </summary>
internal sealed class SnpRmpPrepare(SnpGuestContext snp) : IPrivateMemoryPrepare
{
    public void Prepare(VmFd vm, ulong gfn, ulong count, PageLevel level)
    {
        if (level == PageLevel.Size4K)
        {
            // A 4K leaf over a 2M entry: the first access would be a size-mismatch #NPF, which KVM answers with PSMASH.
            snp.Rmp.Psmash(new Gpa(gfn * PageSize.Size4K));
        }

        for (ulong i = 0; i < count; i++)
        {
            snp.Rmp.AssignForGuest(new Gpa((gfn + i) * PageSize.Size4K), snp.Asid);
        }
    }

    public PageLevel PrepareFolio(VmFd vm, ulong gfn, PageLevel folio)
    {
        ulong head = gfn & ~(PageLevel.Size2M.Frames() - 1);
        var gpa = new Gpa(head * PageSize.Size4K);
        if (snp.Rmp.IsLarge(gpa))
        {
            return PageLevel.Size2M;
        }

        return vm.IsUniformlyPrivate(head, PageLevel.Size2M.Frames()) && snp.Rmp.AssignForGuest2M(gpa, snp.Asid)
            ? PageLevel.Size2M
            : PageLevel.Size4K;
    }
}
