using CocoLaunch.Abi;
using CocoLaunch.Abi.Kvm;
using CocoLaunch.Firmware.Tdx;

namespace CocoLaunch.Kvm;

/// <summary>
/// TDX's private fault after FINALIZE_VM: the page enters the Secure EPT with TDH.MEM.PAGE.AUG, pending until the
/// guest accepts it. A page already there (added at build time, or mapped again after a zap of its leaf only)
/// keeps its state. Faults run in parallel under the MMU read lock: when two vCPUs fault the same GFN, one AUGs it
/// and the other finds the entry taken and goes on as the TDP MMU's loser does (RET_PF_RETRY finds the leaf
/// present); a busy Secure-EPT is retried (<c>tdx_mem_page_aug</c>: -EBUSY). Any other module error is a KVM bug.
/// </summary>
internal sealed class TdxAugPrepare(TdxTd td) : IPrivateMemoryPrepare
{
    public void Prepare(VmFd vm, ulong gfn, ulong count, Mmu.PageLevel level)
    {
        for (ulong i = 0; i < count; i++)
        {
            var gpa = new Gpa((gfn + i) * PageSize.Size4K);
            while (td.StateOf(gpa) == SeptState.Free)
            {
                try
                {
                    td.PageAug(gpa);
                }
                catch (TdxException e) when (e.Status is TdxStatus.EptEntryNotFree or TdxStatus.OperandBusy)
                {
                    Thread.Yield(); // another vCPU holds or took the entry: look again
                }
                catch (TdxException e)
                {
                    vm.Bugged ??= $"TDH.MEM.PAGE.AUG of {gpa} failed: {e.Message}";
                    throw new KvmException(Errno.EIO, vm.Bugged);
                }
            }
        }
    }
}
