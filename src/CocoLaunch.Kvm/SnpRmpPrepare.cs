using CocoLaunch.Abi;
using CocoLaunch.Firmware.Snp;

namespace CocoLaunch.Kvm;

/// <summary>
/// SNP's guest_memfd prepare hook: before a private page is mapped after launch, RMPUPDATE makes it guest-owned
/// (not validated: the guest does that with PVALIDATE). Pages the launch already assigned keep their entries.
/// </summary>
internal sealed class SnpRmpPrepare(SnpGuestContext snp) : IPrivateMemoryPrepare
{
    public void Prepare(VmFd vm, ulong gfn, ulong count)
    {
        for (ulong i = 0; i < count; i++)
        {
            snp.Rmp.AssignForGuest(new Gpa((gfn + i) * PageSize.Size4K), snp.Asid);
        }
    }
}
