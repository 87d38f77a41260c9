namespace CocoLaunch.Kvm;

/// <summary>KVM's guest-visible hypercall error values (negated in RAX): include/uapi/linux/kvm_para.h.</summary>
public static class KvmHypercallError
{
    public const ulong EPerm = unchecked((ulong)-1L);
    public const ulong EInval = unchecked((ulong)-22L);
    public const ulong ENoSys = unchecked((ulong)-1000L);
}
