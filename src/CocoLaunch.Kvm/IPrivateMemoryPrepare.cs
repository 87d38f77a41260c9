using CocoLaunch.Kvm.Mmu;

namespace CocoLaunch.Kvm;

/// <summary>
/// The arch "prepare" hook guest_memfd runs before a private page is mapped (kvm-memory-model.md §2). For SNP it
/// makes the RMP entries guest-owned; the SNP firmware model supplies it. Throwing <see cref="Abi.Kvm.KvmException"/>
/// refuses the mapping (an RMP conflict).
/// </summary>
public interface IPrivateMemoryPrepare
{
    /// <summary>Prepares the pages a leaf of <paramref name="level"/> at <paramref name="gfn"/> is about to map.</summary>
    void Prepare(VmFd vm, ulong gfn, ulong count, PageLevel level);

    /// <summary>
    /// Runs when a private fault could map at <paramref name="folio"/> (larger than 4K), before the leaf is chosen:
    /// prepares the folio as one unit if it can, and returns the largest private leaf the vendor allows at
    /// <paramref name="gfn"/> (<c>gmem_max_mapping_level</c>). TDX maps private memory at 4K only.
    /// </summary>
    PageLevel PrepareFolio(VmFd vm, ulong gfn, PageLevel folio) => PageLevel.Size4K;
}
