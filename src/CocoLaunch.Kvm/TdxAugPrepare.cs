using CocoLaunch.Abi;
using CocoLaunch.Firmware.Tdx;

namespace CocoLaunch.Kvm;

/// <summary>
/// TDX's private fault after FINALIZE_VM: the page enters the Secure EPT with TDH.MEM.PAGE.AUG, pending until the
/// guest accepts it. A page already there (added at build time, or mapped again after a zap of its leaf only)
/// keeps its state.
/// </summary>
internal sealed class TdxAugPrepare(TdxTd td) : IPrivateMemoryPrepare
{
    public void Prepare(VmFd vm, ulong gfn, ulong count, Mmu.PageLevel level)
    {
        for (ulong i = 0; i < count; i++)
        {
            var gpa = new Gpa((gfn + i) * PageSize.Size4K);
            if (td.StateOf(gpa) == SeptState.Free)
            {
                td.PageAug(gpa);
            }
        }
    }
}
