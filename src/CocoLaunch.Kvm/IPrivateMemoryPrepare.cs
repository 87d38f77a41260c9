namespace CocoLaunch.Kvm;

/// <summary>
/// The arch "prepare" hook guest_memfd runs before a private page is mapped (kvm-memory-model.md §2). For SNP it
/// makes the RMP entries guest-owned; the SNP firmware model supplies it. Throwing <see cref="Abi.Kvm.KvmException"/>
/// refuses the mapping (an RMP conflict).
/// </summary>
public interface IPrivateMemoryPrepare
{
    void Prepare(VmFd vm, ulong gfn, ulong count);
}
